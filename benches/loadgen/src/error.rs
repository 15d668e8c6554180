//! One error type for the load generator: a message. Setup failures end the run with it, and
//! failed correctness checks become a non-zero exit.

/// A failure with a message for the operator.
#[derive(Debug)]
pub struct Error(pub String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Self(format!("I/O: {e}"))
    }
}

impl From<crate::sio::SioError> for Error {
    fn from(e: crate::sio::SioError) -> Self {
        Self(format!("socket: {e}"))
    }
}

/// Shorthand result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Builds an error from a message.
pub fn err(message: impl Into<String>) -> Error {
    Error(message.into())
}
