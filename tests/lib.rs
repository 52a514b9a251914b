//! Cross-crate integration tests live in the test folders; this library is empty.
