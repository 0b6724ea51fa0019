package didyoumean

import "testing"

func TestClosest(t *testing.T) {
	fields := []string{"name", "issuer", "sources", "policy", "kid", "kid_template", "output", "rotation", "targets"}
	for _, tc := range []struct {
		name       string
		candidates []string
		want       string
	}{
		{"polcy", fields, "policy"},
		{"target", fields, "targets"},
		{"kid_templat", fields, "kid_template"},
		{"sourcse", fields, "sources"},
		{"kdi", fields, "kid"},
		{"colour", fields, ""}, // nothing near: no guess
		{"policy", fields, ""}, // an exact match is not a suggestion
		{"regoin", []string{"region", "endpoint", "use_path_style"}, "region"},
		{"use_path", []string{"region", "endpoint", "use_path_style"}, ""},
		{"pubish", []string{"build", "diff", "publish", "status"}, "publish"},
		{"prdo", []string{"prod", "staging"}, "prod"},
		{"x", []string{"y"}, "y"},
		{"", []string{"a", "bb"}, ""},
	} {
		if got := Closest(tc.name, tc.candidates); got != tc.want {
			t.Errorf("Closest(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{{"", "", 0}, {"kitten", "sitting", 3}, {"polcy", "policy", 1}, {"abc", "", 3}, {"é", "e", 1}, {"prdo", "prod", 1}, {"ab", "ba", 1}} {
		if got := distance(tc.a, tc.b); got != tc.want {
			t.Errorf("distance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}
