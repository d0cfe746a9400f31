//! Lambda event envelopes (filled in by the Lambda driver).
