//! The one string type of the validated model that may hold `${…}` references.

/// A string that may hold `${…}` references, resolved just before its step runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template(pub String);
