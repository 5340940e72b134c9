//! Writing tables out: Parquet (`parquet`) and JSON Lines (`text`), encoded on every core. Python names the file
//! and the options; the encoding, the order of row groups and the file's layout are
//! decided here.

pub mod parquet;
pub mod text;

pub use self::parquet::{Codec, ParquetOptions, ParquetSink};
pub use self::text::{TextFormat, TextSink};
