//! Enums stored as text. sqlx derives their column type for each engine but not for `Any`, through which the
//! console queries both: [`stored_as_text!`] gives a type its stored names and the `Any` encoding in one place.

/// `stored_as_text!(Type { Variant => "name", … })`: `Type::stored(self)` is the name in the database, and the type
/// binds and decodes as that text (an unknown stored name is a decoding error naming it).
macro_rules! stored_as_text {
    ($ty:ident { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $ty {
            /// The name stored in the database.
            pub fn stored(self) -> &'static str {
                match self {
                    $($ty::$variant => $name),+
                }
            }

            pub fn from_stored(name: &str) -> Option<$ty> {
                match name {
                    $($name => Some($ty::$variant),)+
                    _ => None,
                }
            }
        }

        impl sqlx::Type<sqlx::Any> for $ty {
            fn type_info() -> sqlx::any::AnyTypeInfo {
                <str as sqlx::Type<sqlx::Any>>::type_info()
            }

            fn compatible(ty: &sqlx::any::AnyTypeInfo) -> bool {
                <str as sqlx::Type<sqlx::Any>>::compatible(ty)
            }
        }

        impl<'q> sqlx::Encode<'q, sqlx::Any> for $ty {
            fn encode_by_ref(
                &self,
                buf: &mut <sqlx::Any as sqlx::Database>::ArgumentBuffer<'q>,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <&str as sqlx::Encode<'q, sqlx::Any>>::encode(self.stored(), buf)
            }
        }

        impl<'r> sqlx::Decode<'r, sqlx::Any> for $ty {
            fn decode(value: sqlx::any::AnyValueRef<'r>) -> Result<$ty, sqlx::error::BoxDynError> {
                let name = <&str as sqlx::Decode<'r, sqlx::Any>>::decode(value)?;
                $ty::from_stored(name)
                    .ok_or_else(|| format!("unknown {} {name:?} in the database", stringify!($ty)).into())
            }
        }
    };
}

pub(crate) use stored_as_text;
