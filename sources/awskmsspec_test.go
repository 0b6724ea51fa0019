package sources

import (
	"fmt"
	"strings"
	"testing"
)

func TestParseAWSKMSSpec(t *testing.T) {
	for _, tc := range []struct {
		arg, want, err string
	}{
		{arg: "alias/jwt", want: "[alias/jwt]  "},
		{arg: "1234abcd-12ab-34cd-56ef-1234567890ab+alias/jwt?region=eu-west-1", want: "[1234abcd-12ab-34cd-56ef-1234567890ab alias/jwt] eu-west-1 "},
		{arg: "arn:aws:kms:us-east-1:111122223333:key/k1?endpoint=http://127.0.0.1:18300", want: "[arn:aws:kms:us-east-1:111122223333:key/k1]  http://127.0.0.1:18300"},
		{arg: "arn:aws:kms:us-east-1:111122223333:alias/jwt?endpoint=https://vpce-1.kms.us-east-1.vpce.amazonaws.com", want: "[arn:aws:kms:us-east-1:111122223333:alias/jwt]  https://vpce-1.kms.us-east-1.vpce.amazonaws.com"},
		{arg: "a++b", err: "an empty key in the list"},
		{arg: "a+a", err: `key "a" is listed twice`},
		{arg: "alias/aws/s3", err: "AWS managed keys"},
		{arg: "arn:aws:s3:::bucket", err: "is not a KMS key or alias ARN"},
		{arg: "k?endpoint=http://kms.example.com", err: "plain http only to a loopback emulator"},
		{arg: "k?endpoint=https://user:pw@kms.example.com", err: "without credentials"},
		{arg: "k?region=a&region=b", err: `option "region": give it once`},
		{arg: "k?profile=x", err: `unknown option "profile" (region, endpoint)`},
	} {
		s, err := ParseAWSKMSSpec(tc.arg)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want %q", tc.arg, err, tc.err)
			}
			if strings.Contains(fmt.Sprint(err), "pw@") {
				t.Errorf("%s: the error shows the password", tc.arg)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.arg, err)
			continue
		}
		if got := fmt.Sprintf("%v %s %s", s.Keys, s.Region, s.Endpoint); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.arg, got, tc.want)
		}
	}
}

// FuzzParseAWSKMSSpec: the parser never panics, and what it accepts lists keys that are
// non-empty, distinct and free of the list's and options' separators.
func FuzzParseAWSKMSSpec(f *testing.F) {
	for _, s := range []string{"alias/jwt", "a+b?region=r", "k?endpoint=http://127.0.0.1:1", "?", ",", "a?%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, arg string) {
		s, err := ParseAWSKMSSpec(arg)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, k := range s.Keys {
			if k == "" || seen[k] || strings.ContainsAny(k, "+? \t\r\n") {
				t.Fatalf("ParseAWSKMSSpec(%q) accepted key %q", arg, k)
			}
			seen[k] = true
		}
	})
}
