// Package report writes what a run found for people and machines: plans as text, JSON and a
// Markdown CI summary, rotation timelines as text, and the Prometheus textfile of a run
// (WriteMetricsFile keeps the last-success timestamp exactly across failed runs).
//
// It only formats values it is handed (publish.Plan, rotation.Timeline, Metrics) and writes
// them to an io.Writer or, for the metrics file, atomically to a path. Package publish must
// never import it: the library returns results, the command prints them. It must never import a
// network, cloud or registry package.
package report
