"""The SEDA service: a safety audit of a person's text over gRPC, with crisis resources and an audit stream."""
