//! Integration tests live in `integration/` as one test binary; this library is empty.
