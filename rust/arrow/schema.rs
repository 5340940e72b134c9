//! The Arrow schemas of the three views (records, tokens, errors): column names, types and
//! the schema metadata. `docs/arrow-schema.md` documents every column; a change to a name or
//! a type here bumps [`SCHEMA_VERSION`].

use arrow_schema::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};
use std::collections::HashMap;
use std::sync::Arc;

/// `bsmtrail.schema_version` in every schema's metadata.
pub const SCHEMA_VERSION: &str = "2";

/// Which table a stream produces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ViewKind {
    Records,
    Tokens,
    Errors,
}

impl ViewKind {
    pub fn name(self) -> &'static str {
        match self {
            ViewKind::Records => "records",
            ViewKind::Tokens => "tokens",
            ViewKind::Errors => "errors",
        }
    }
}

macro_rules! columns {
    ($($var:ident = $name:literal),* $(,)?) => {
        /// A column of the records view.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Col { $($var),* }

        impl Col {
            /// Every column, in schema order.
            pub const ALL: &'static [Col] = &[$(Col::$var),*];

            pub fn name(self) -> &'static str {
                match self { $(Col::$var => $name),* }
            }

            pub fn from_name(name: &str) -> Option<Col> {
                match name { $($name => Some(Col::$var),)* _ => None }
            }
        }
    };
}

columns! {
    Source = "source",
    RecordOffset = "record_offset",
    Size = "size",
    HeaderType = "header_type",
    Version = "version",
    Event = "event",
    Modifier = "modifier",
    Time = "time",
    Host = "host",
    SubjectType = "subject_type",
    Auid = "auid",
    Euid = "euid",
    Egid = "egid",
    Ruid = "ruid",
    Rgid = "rgid",
    Pid = "pid",
    Sid = "sid",
    TidPort = "tid_port",
    TidAddr = "tid_addr",
    ReturnStatus = "return_status",
    ReturnValue = "return_value",
    ReturnErrno = "return_errno",
    Success = "success",
    Paths = "paths",
    Texts = "texts",
    ExecArgs = "exec_args",
    ExecEnv = "exec_env",
    Args = "args",
    Attrs = "attrs",
    Sockets = "sockets",
    Processes = "processes",
    Identity = "identity",
    Groups = "groups",
    Seq = "seq",
    Zone = "zone",
    OtherTokens = "other_tokens",
    Error = "error",
    ErrorOffset = "error_offset",
}

/// Number of records-view columns.
pub const NCOL: usize = Col::ALL.len();

impl Col {
    /// Index into per-column tables.
    pub fn idx(self) -> usize {
        self as usize
    }

    /// Columns filled from the header alone (framing gives offset and size; the header
    /// token the rest). Everything else needs the record's tokens walked.
    pub fn header_only(self) -> bool {
        matches!(
            self,
            Col::Source
                | Col::RecordOffset
                | Col::Size
                | Col::HeaderType
                | Col::Version
                | Col::Event
                | Col::Modifier
                | Col::Time
                | Col::Host
        )
    }

    pub fn data_type(self) -> DataType {
        use DataType as D;
        match self {
            Col::Source | Col::HeaderType | Col::SubjectType | Col::ReturnErrno | Col::Error => {
                dict()
            }
            Col::RecordOffset | Col::TidPort | Col::ErrorOffset => D::UInt64,
            Col::Size | Col::Auid | Col::Euid | Col::Egid | Col::Ruid | Col::Rgid => D::UInt32,
            Col::Pid | Col::Sid | Col::Seq => D::UInt32,
            Col::Version | Col::ReturnStatus => D::UInt8,
            Col::Event | Col::Modifier => D::UInt16,
            Col::Time => timestamp(),
            Col::Host | Col::TidAddr | Col::Zone => D::Utf8,
            Col::ReturnValue => D::Int64,
            Col::Success => D::Boolean,
            Col::Paths | Col::Texts | Col::ExecArgs | Col::ExecEnv => list(D::Utf8, false),
            Col::Groups => list(D::UInt32, false),
            Col::Args => list_of(args_fields()),
            Col::Attrs => list_of(attrs_fields()),
            Col::Sockets => list_of(sockets_fields()),
            Col::Processes => list_of(processes_fields()),
            Col::OtherTokens => list_of(other_fields()),
            Col::Identity => D::Struct(identity_fields()),
        }
    }

    pub fn nullable(self) -> bool {
        !matches!(
            self,
            Col::Source
                | Col::RecordOffset
                | Col::Size
                | Col::HeaderType
                | Col::Paths
                | Col::Texts
                | Col::Args
                | Col::Attrs
                | Col::Sockets
                | Col::Processes
                | Col::OtherTokens
        )
    }

    pub fn field(self) -> Field {
        Field::new(self.name(), self.data_type(), self.nullable())
    }
}

/// `dictionary<int32, utf8>`: low-cardinality text (names, reason codes, sources).
pub fn dict() -> DataType {
    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
}

pub fn timestamp() -> DataType {
    DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
}

/// The element field of every list column.
pub fn item(dt: DataType, nullable: bool) -> Arc<Field> {
    Arc::new(Field::new("item", dt, nullable))
}

pub fn list(dt: DataType, nullable: bool) -> DataType {
    DataType::List(item(dt, nullable))
}

pub fn list_of(fields: Fields) -> DataType {
    list(DataType::Struct(fields), false)
}

fn f(name: &str, dt: DataType, nullable: bool) -> Field {
    Field::new(name, dt, nullable)
}

pub fn args_fields() -> Fields {
    Fields::from(vec![
        f("num", DataType::UInt8, false),
        f("value", DataType::UInt64, false),
        f("desc", DataType::Utf8, false),
    ])
}

pub fn attrs_fields() -> Fields {
    Fields::from(vec![
        f("mode", DataType::UInt32, false),
        f("uid", DataType::UInt32, false),
        f("gid", DataType::UInt32, false),
        f("fsid", DataType::UInt32, false),
        f("nodeid", DataType::UInt64, false),
        f("device", DataType::UInt64, false),
    ])
}

/// One struct for the five socket tokens; fields a token lacks are null.
pub fn sockets_fields() -> Fields {
    Fields::from(vec![
        f("kind", DataType::Utf8, false),
        f("family", DataType::UInt16, true),
        f("sock_type", DataType::UInt16, true),
        f("lport", DataType::UInt16, true),
        f("laddr", DataType::Utf8, true),
        f("rport", DataType::UInt16, true),
        f("raddr", DataType::Utf8, true),
    ])
}

pub fn processes_fields() -> Fields {
    let mut v = vec![f("type", DataType::Utf8, false)];
    // auid is null when unset (4294967295), as the records view's `auid` column.
    v.push(f("auid", DataType::UInt32, true));
    for n in ["euid", "egid", "ruid", "rgid", "pid", "sid"] {
        v.push(f(n, DataType::UInt32, false));
    }
    v.push(f("tid_port", DataType::UInt64, false));
    v.push(f("tid_addr", DataType::Utf8, false));
    Fields::from(v)
}

pub fn identity_fields() -> Fields {
    Fields::from(vec![
        f("signer_type", DataType::UInt32, false),
        f("signing_id", DataType::Utf8, false),
        f("signing_id_truncated", DataType::Boolean, false),
        f("team_id", DataType::Utf8, false),
        f("team_id_truncated", DataType::Boolean, false),
        f("cdhash", DataType::Binary, false),
    ])
}

pub fn other_fields() -> Fields {
    Fields::from(vec![
        f("type", DataType::Utf8, false),
        f("id", DataType::UInt8, false),
        f("token_offset", DataType::UInt64, false),
        f("data", DataType::Binary, false),
    ])
}

/// Columns of the tokens view.
pub fn tokens_fields() -> Vec<Field> {
    vec![
        f("source", dict(), false),
        f("record_index", DataType::UInt64, true),
        f("record_offset", DataType::UInt64, false),
        f("token_index", DataType::UInt32, false),
        f("token_offset", DataType::UInt64, false),
        f("id", DataType::UInt8, false),
        f("type", dict(), false),
        f("length", DataType::UInt32, false),
        f("fields", DataType::Utf8, false),
        f("raw", DataType::Binary, false),
    ]
}

/// Columns of the errors view.
pub fn errors_fields() -> Vec<Field> {
    vec![
        f("source", dict(), false),
        f("region_offset", DataType::UInt64, false),
        f("length", DataType::UInt64, false),
        f("kind", dict(), false),
        f("reason", dict(), false),
        f("message", DataType::Utf8, false),
        f("error_offset", DataType::UInt64, false),
        f("token_id", DataType::UInt8, true),
    ]
}

/// A schema with bsmtrail's metadata: schema version, view, and the sources (one per
/// line) when there are few enough to be useful.
pub fn with_metadata(fields: Vec<Field>, view: ViewKind, sources: &[String]) -> SchemaRef {
    let mut md = HashMap::new();
    md.insert(
        "bsmtrail.schema_version".to_string(),
        SCHEMA_VERSION.to_string(),
    );
    md.insert("bsmtrail.view".to_string(), view.name().to_string());
    if sources.len() == 1 {
        md.insert("bsmtrail.source".to_string(), sources[0].clone());
    } else {
        md.insert("bsmtrail.sources".to_string(), sources.len().to_string());
    }
    Arc::new(Schema::new_with_metadata(fields, md))
}

pub fn records_schema(cols: &[Col], sources: &[String]) -> SchemaRef {
    with_metadata(
        cols.iter().map(|c| c.field()).collect(),
        ViewKind::Records,
        sources,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for (i, c) in Col::ALL.iter().enumerate() {
            assert_eq!(c.idx(), i);
            assert_eq!(Col::from_name(c.name()), Some(*c));
            assert!(seen.insert(c.name()));
        }
        assert_eq!(Col::from_name("nope"), None);
    }

    #[test]
    fn metadata() {
        let s = records_schema(Col::ALL, &["a.bsm".to_string()]);
        assert_eq!(s.metadata()["bsmtrail.schema_version"], SCHEMA_VERSION);
        assert_eq!(s.metadata()["bsmtrail.source"], "a.bsm");
        assert_eq!(s.fields().len(), NCOL);
    }
}
