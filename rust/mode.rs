//! How a reader meets a problem in its input: the one vocabulary of every entry point.

use std::fmt;
use std::str::FromStr;

/// `Strict` raises at the first problem: a damaged region, a record that fails to decode.
/// `Recover` skips damaged regions (reporting each), resynchronises on the next record
/// whose header count lands on a valid trailer, and keeps records that fail validation as
/// rows with their error (Arrow) or reports them (iteration).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Mode {
    #[default]
    Strict,
    Recover,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Strict => "strict",
            Mode::Recover => "recover",
        }
    }

    pub fn recovers(self) -> bool {
        self == Mode::Recover
    }
}

/// The error for a name that is not a mode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownMode(pub String);

impl fmt::Display for UnknownMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "mode must be 'strict' or 'recover', not {:?}", self.0)
    }
}

impl std::error::Error for UnknownMode {}

impl FromStr for Mode {
    type Err = UnknownMode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "strict" => Ok(Mode::Strict),
            "recover" => Ok(Mode::Recover),
            other => Err(UnknownMode(other.to_string())),
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_others_are_refused() {
        for m in [Mode::Strict, Mode::Recover] {
            assert_eq!(m.name().parse::<Mode>(), Ok(m));
        }
        let e = "Recover".parse::<Mode>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "mode must be 'strict' or 'recover', not \"Recover\""
        );
    }
}
