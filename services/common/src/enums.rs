//! `sql_enum!`: a state kept as text in SQL and sent as a protobuf enum,
//! declared once with its three spellings (Rust, SQL, protobuf) and a list
//! filter that names unknown values.

/// Declares the enum, `as_sql`/`from_sql`, `to_proto` and `filter_field`.
#[macro_export]
macro_rules! sql_enum {
    ($(#[$m:meta])* $name:ident, $pb:ty, $what:literal, { $($v:ident = $sql:literal,)* }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name { $($v,)* }

        impl $name {
            pub fn as_sql(self) -> &'static str {
                match self { $($name::$v => $sql,)* }
            }

            pub fn from_sql(s: &str) -> Result<$name, $crate::ApiError> {
                match s {
                    $($sql => Ok($name::$v),)*
                    other => Err($crate::ApiError::internal(format!(concat!("stored ", $what, " {:?}"), other))),
                }
            }

            pub fn to_proto(self) -> $pb {
                match self { $($name::$v => <$pb>::$v,)* }
            }

            /// A list filter: unset is any.
            pub fn filter_field(f: &mut $crate::validate::Fields, field: &str, value: i32) -> Option<$name> {
                match <$pb>::try_from(value) {
                    Ok(<$pb>::Unspecified) => None,
                    $(Ok(<$pb>::$v) => Some($name::$v),)*
                    Err(_) => {
                        f.add(field, format!(concat!("unknown ", $what, " {}"), value));
                        None
                    }
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_sql())
            }
        }
    };
}
