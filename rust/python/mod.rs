//! The `bsmtrail._native` extension module. Each submodule registers its own classes and
//! functions; this file only lists them.

mod arrow;
mod batch;
mod chunks;
mod convert;
mod errors;
mod export;
mod lineage;
mod merge;
mod mode;
mod ocsf;
mod progress;
mod reader;
mod render;
mod report;
mod select;
mod source;
mod stats;
mod tally;
mod writer;

use pyo3::prelude::*;

#[pymodule]
#[pyo3(name = "_native", gil_used = false)]
fn native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add(
        "build_profile",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
    )?;
    arrow::register(m)?;
    chunks::register(m)?;
    errors::register(m)?;
    lineage::register(m)?;
    export::register(m)?;
    merge::register(m)?;
    ocsf::register(m)?;
    reader::register(m)?;
    render::register(m)?;
    report::register(m)?;
    select::register(m)?;
    source::register(m)?;
    stats::register(m)?;
    tally::register(m)?;
    writer::register(m)?;
    Ok(())
}
