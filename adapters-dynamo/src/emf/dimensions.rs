//! Which dimensions the reading metrics carry: the `EMF_DIMENSIONS` setting, parsed.

use std::fmt;
use std::str::FromStr;

use iot_core::model::SensorReading;

use super::MAX_DIMENSIONS_PER_SET;

/// A dimension a reading metric can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Dimension {
    /// The sensor id.
    SensorId,
    /// The run's owner.
    User,
    /// The run id.
    RunId,
    /// The reading type (`temperature`, `humidity`, `pressure`).
    Type,
}

impl Dimension {
    /// Every dimension, in key order.
    pub const ALL: [Self; 4] = [Self::SensorId, Self::User, Self::RunId, Self::Type];

    /// The dimension key as written in EMF documents.
    pub fn name(self) -> &'static str {
        match self {
            Self::SensorId => "SensorId",
            Self::User => "User",
            Self::RunId => "RunId",
            Self::Type => "Type",
        }
    }

    /// The value this dimension takes for `reading`.
    pub(super) fn value_of(self, reading: &SensorReading) -> String {
        match self {
            Self::SensorId => reading.sensor_id.as_str().to_string(),
            Self::User => reading.user.as_str().to_string(),
            Self::RunId => reading.run_id.as_uuid().to_string(),
            Self::Type => reading.kind.as_str().to_string(),
        }
    }
}

/// A malformed dimension configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DimensionsError(String);

impl fmt::Display for DimensionsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DimensionsError {}

/// The dimension sets of the reading metrics, e.g. `SensorId,User,RunId,Type;Type`: sets are
/// separated by `;`, keys within a set by `,` (blanks ignored). Keys: `SensorId`, `User`,
/// `RunId`, `Type`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DimensionSets(Vec<Vec<Dimension>>);

impl DimensionSets {
    /// The sets, in configuration order.
    pub fn sets(&self) -> &[Vec<Dimension>] {
        &self.0
    }

    /// Every key used by some set, each once, in key order: the root members a document needs.
    pub fn keys(&self) -> Vec<Dimension> {
        let mut keys: Vec<Dimension> = self.0.iter().flatten().copied().collect();
        keys.sort();
        keys.dedup();
        keys
    }
}

impl Default for DimensionSets {
    fn default() -> Self {
        Self(vec![Dimension::ALL.to_vec()])
    }
}

impl FromStr for DimensionSets {
    type Err = DimensionsError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut sets = Vec::new();
        for raw_set in text.split(';').map(str::trim).filter(|s| !s.is_empty()) {
            let mut set = Vec::new();
            for key in raw_set.split(',').map(str::trim).filter(|k| !k.is_empty()) {
                let dimension = Dimension::ALL
                    .into_iter()
                    .find(|d| d.name().eq_ignore_ascii_case(key))
                    .ok_or_else(|| {
                        DimensionsError(format!(
                            "unknown EMF dimension {key:?}: use SensorId, User, RunId or Type"
                        ))
                    })?;
                if set.contains(&dimension) {
                    return Err(DimensionsError(format!(
                        "EMF dimension {key:?} is repeated in the set {raw_set:?}"
                    )));
                }
                set.push(dimension);
            }
            if set.len() > MAX_DIMENSIONS_PER_SET {
                return Err(DimensionsError(format!(
                    "an EMF dimension set holds at most {MAX_DIMENSIONS_PER_SET} keys"
                )));
            }
            if !sets.contains(&set) {
                sets.push(set);
            }
        }
        if sets.is_empty() {
            return Err(DimensionsError(
                "no EMF dimension set: give e.g. \"SensorId,User,RunId,Type\"".into(),
            ));
        }
        Ok(Self(sets))
    }
}

impl fmt::Display for DimensionSets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text: Vec<String> = self
            .0
            .iter()
            .map(|set| set.iter().map(|d| d.name()).collect::<Vec<_>>().join(","))
            .collect();
        f.write_str(&text.join(";"))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::emf::DEFAULT_DIMENSIONS;

    #[test]
    fn dimension_sets_parse_and_reject_nonsense() {
        let sets: DimensionSets = " SensorId, User ,RunId,Type ; type;; ".parse().unwrap();
        assert_eq!(
            sets.sets(),
            &[Dimension::ALL.to_vec(), vec![Dimension::Type]]
        );
        assert_eq!(sets.to_string(), "SensorId,User,RunId,Type;Type");
        assert_eq!(sets.keys(), Dimension::ALL.to_vec());
        assert_eq!(
            DimensionSets::default(),
            DEFAULT_DIMENSIONS.parse().unwrap()
        );
        for bad in ["", " ; ", "SensorId,Colour", "Type,Type"] {
            assert!(bad.parse::<DimensionSets>().is_err(), "{bad:?}");
        }
    }
}
