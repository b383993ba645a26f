//! One declaration per stored enum: its variants, their SQL text and their
//! protobuf value, so that each mapping is written once.

/// Declares an enum stored as text and sent as a protobuf enum:
/// `as_sql`, `from_sql` (a stored value it does not know is INTERNAL),
/// `to_proto` and `from_proto` (UNSPECIFIED or unknown is `None`).
///
/// `$pb` is the protobuf enum, in scope under that name.
macro_rules! stored_enum {
    (
        $(#[$m:meta])*
        pub enum $name:ident as $pb:ident, $what:literal {
            $( $(#[$vm:meta])* $variant:ident = $sql:literal => $pbv:ident, )+
        }
    ) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vm])* $variant, )+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_sql(self) -> &'static str {
                match self {
                    $( $name::$variant => $sql, )+
                }
            }

            pub fn from_sql(s: &str) -> Result<$name, hotline_common::ApiError> {
                match s {
                    $( $sql => Ok($name::$variant), )+
                    other => Err(hotline_common::ApiError::internal(format!(
                        concat!("stored ", $what, " {:?}"),
                        other
                    ))),
                }
            }

            pub fn to_proto(self) -> $pb {
                match self {
                    $( $name::$variant => $pb::$pbv, )+
                }
            }

            pub fn from_proto(raw: i32) -> Option<$name> {
                match $pb::try_from(raw) {
                    $( Ok($pb::$pbv) => Some($name::$variant), )+
                    _ => None,
                }
            }
        }
    };
}

pub(crate) use stored_enum;

#[cfg(test)]
mod tests {
    use hotline_proto::common::v1::FeedbackOutcome;

    stored_enum! {
        /// A test enum.
        pub enum Outcome as FeedbackOutcome, "outcome" {
            Resolved = "resolved" => Resolved,
            Explained = "explained" => Explained,
        }
    }

    #[test]
    fn every_variant_round_trips_and_strangers_are_refused() {
        for v in Outcome::ALL {
            assert_eq!(Outcome::from_sql(v.as_sql()), Ok(*v));
            assert_eq!(Outcome::from_proto(v.to_proto() as i32), Some(*v));
        }
        assert!(
            Outcome::from_sql("nope")
                .unwrap_err()
                .message
                .contains("stored outcome \"nope\"")
        );
        assert_eq!(Outcome::from_proto(0), None);
        assert_eq!(Outcome::from_proto(99), None);
        assert_eq!(
            Outcome::from_proto(FeedbackOutcome::Unresolved as i32),
            None
        );
    }
}
