//! `OcsfTables`, `ocsf_events` and `ocsf_lake_parts`: OCSF events of records-view batches
//! (`crate::ocsf`), built without the GIL.

use super::errors::arrow_to_pyerr as to_pyerr;
use crate::ocsf::{self, role, Class};
use arrow_array::RecordBatch;
use arrow_schema::ArrowError;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3_arrow::PyRecordBatch;
use std::collections::HashMap;
use std::sync::Arc;

/// What each event number means to the OCSF mapping, handed over once: `classes` and
/// `activities` (class_uid and activity_id of every event number, 65,536 each), `names`
/// (the event database's `(number, name)`), `roles` (`fork`, `spawn`, `kill`, `to_peer`,
/// `rename` -> event numbers), `described` (`(class_uid, name, category_uid,
/// category_name, [(activity_id, name)], [class-only attribute])` of each class) and
/// `version` (the OCSF release followed).
#[pyclass(module = "bsmtrail._native", name = "OcsfTables", frozen)]
pub struct OcsfTables {
    inner: Arc<ocsf::Tables>,
}

type Described = (i32, String, i32, String, Vec<(i32, String)>, Vec<String>);

#[pymethods]
impl OcsfTables {
    #[new]
    #[pyo3(signature = (classes, activities, names, roles, described, version))]
    fn new(
        classes: Vec<i32>,
        activities: Vec<i32>,
        names: Vec<(u16, String)>,
        roles: HashMap<String, Vec<u16>>,
        described: Vec<Described>,
        version: String,
    ) -> PyResult<Self> {
        let mut bits = Vec::new();
        for (name, numbers) in roles {
            let bit = role::NAMES
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, b)| *b)
                .ok_or_else(|| PyValueError::new_err(format!("no event role {name:?}")))?;
            bits.push((bit, numbers));
        }
        let described = described
            .into_iter()
            .map(
                |(uid, name, category_uid, category_name, activities, attributes)| Class {
                    uid,
                    name,
                    category_uid,
                    category_name,
                    activities,
                    attributes,
                },
            )
            .collect();
        let inner = ocsf::Tables::new(classes, activities, names, bits, described, version)
            .map_err(PyValueError::new_err)?;
        Ok(OcsfTables {
            inner: Arc::new(inner),
        })
    }
}

/// One records-view batch as OCSF events, row for row; with `only_class`, only that
/// class's columns.
#[pyfunction]
#[pyo3(signature = (batch, tables, only_class = None))]
fn ocsf_events<'py>(
    py: Python<'py>,
    batch: &Bound<'py, PyAny>,
    tables: &OcsfTables,
    only_class: Option<i32>,
) -> PyResult<Bound<'py, PyAny>> {
    let out = run(py, batch, tables, |b, t| ocsf::events(b, t, only_class))?;
    PyRecordBatch::new(out).into_pyarrow(py)
}

/// `work` on the record batch `batch` holds and the tables, without the GIL.
fn run<T: Send>(
    py: Python<'_>,
    batch: &Bound<'_, PyAny>,
    tables: &OcsfTables,
    work: impl FnOnce(&RecordBatch, &ocsf::Tables) -> Result<T, ArrowError> + Send,
) -> PyResult<T> {
    let batch = super::batch::import(batch)?;
    let tables = &*tables.inner;
    py.detach(|| work(&batch, tables)).map_err(to_pyerr)
}

/// The facts every event shape derives alike from a records-view batch (`crate::ocsf::facts`).
#[pyfunction]
fn record_facts<'py>(
    py: Python<'py>,
    batch: &Bound<'py, PyAny>,
    tables: &OcsfTables,
) -> PyResult<Bound<'py, PyAny>> {
    let out = run(py, batch, tables, ocsf::facts)?;
    PyRecordBatch::new(out).into_pyarrow(py)
}

/// One records-view batch's events for the Security Lake: `(class_uid, day, events)`
/// for each class and UTC day (`YYYYMMDD`, `unknown`), sorted by both.
#[pyfunction]
fn ocsf_lake_parts<'py>(
    py: Python<'py>,
    batch: &Bound<'py, PyAny>,
    tables: &OcsfTables,
) -> PyResult<Vec<(i32, String, Bound<'py, PyAny>)>> {
    let parts = run(py, batch, tables, ocsf::lake_parts)?;
    parts
        .into_iter()
        .map(|(class, day, events)| Ok((class, day, PyRecordBatch::new(events).into_pyarrow(py)?)))
        .collect()
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<OcsfTables>()?;
    m.add_function(wrap_pyfunction!(ocsf_events, m)?)?;
    m.add_function(wrap_pyfunction!(ocsf_lake_parts, m)?)?;
    m.add_function(wrap_pyfunction!(record_facts, m)?)?;
    Ok(())
}
