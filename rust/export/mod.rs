//! Writing tables out: Parquet encoded on every core (`parquet`). Python names the file
//! and the options; the encoding, the order of row groups and the file's layout are
//! decided here.

pub mod parquet;

pub use self::parquet::{Codec, ParquetOptions, ParquetSink};
