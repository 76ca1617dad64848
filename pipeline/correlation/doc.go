// Package correlation runs the correlator (package correlate) over the
// stored events and keeps the correlations table current: Correlate is the
// batch run (`keytrail correlate`, the demo), Live the streaming one that
// pipeline.Correlator drives (`keytrail collect`, `ingest --correlate`,
// `correlate --follow`).
//
// Both read the events through Store, which they declare and
// warehouse.Warehouse implements: the stored rows in time order, streamed in
// windows, only the columns and rows the correlator uses. Airflow rows and
// runs stored before the identity that names their person (or with the
// provisional person of a provider subject not yet seen with its email)
// take it as they are read (enrich.People), so a verdict does not depend on the order in
// which sources were ingested.
//
// It is a subpackage of pipeline, not part of it: the batch commands need
// the correlation runs without the bus and its Kafka client, and pipeline
// needs only the small Live interface it declares, so neither imports the
// other.
package correlation
