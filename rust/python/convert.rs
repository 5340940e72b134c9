//! Decoded tokens as Python dicts. Every field is named; integers are as stored (unsigned),
//! addresses are text (dotted quad, or glibc-style IPv6), byte strings become `str`.
//!
//! Strings: BSM strings are bytes with no declared encoding and attackers control them, so
//! they are decoded as UTF-8 with `surrogateescape` (lossless: `s.encode("utf-8",
//! "surrogateescape")` gives the bytes back) after dropping one trailing NUL, the C
//! terminator the writers add. Opaque data, arbitrary data and cdhashes stay `bytes`.

use crate::inet;
use crate::tokens::fields::{self, FieldSink};
use crate::tokens::{canonical_name, Addr, StrList, Tok};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString};

pub(crate) fn cstr<'py>(py: Python<'py>, b: &[u8]) -> PyResult<Bound<'py, PyAny>> {
    let b = b.strip_suffix(b"\0").unwrap_or(b);
    match std::str::from_utf8(b) {
        Ok(s) => Ok(PyString::new(py, s).into_any()),
        Err(_) => PyBytes::new(py, b).call_method1("decode", ("utf-8", "surrogateescape")),
    }
}

/// A token's fields into a Python dict; the first error is kept and stops nothing else
/// (there is none in practice: every value converts).
struct DictSink<'py, 'd> {
    py: Python<'py>,
    d: &'d Bound<'py, PyDict>,
    err: Option<PyErr>,
}

impl<'py> DictSink<'py, '_> {
    fn set(&mut self, key: &'static str, v: PyResult<Bound<'py, PyAny>>) {
        if self.err.is_none() {
            if let Err(e) = v.and_then(|v| self.d.set_item(key, v)) {
                self.err = Some(e);
            }
        }
    }
}

impl FieldSink for DictSink<'_, '_> {
    fn num(&mut self, key: &'static str, v: u64) {
        let v = v.into_pyobject(self.py).map(|v| v.into_any());
        self.set(key, v.map_err(PyErr::from));
    }
    fn boolean(&mut self, key: &'static str, v: bool) {
        let v = pyo3::types::PyBool::new(self.py, v).to_owned().into_any();
        self.set(key, Ok(v));
    }
    fn null(&mut self, key: &'static str) {
        self.set(key, Ok(self.py.None().into_bound(self.py)));
    }
    fn text(&mut self, key: &'static str, b: &[u8]) {
        let v = cstr(self.py, b);
        self.set(key, v);
    }
    fn string(&mut self, key: &'static str, s: &str) {
        self.set(key, Ok(PyString::new(self.py, s).into_any()));
    }
    fn bytes(&mut self, key: &'static str, b: &[u8]) {
        self.set(key, Ok(PyBytes::new(self.py, b).into_any()));
    }
    fn addr(&mut self, key: &'static str, a: &Addr) {
        let s = inet::addr_string(a);
        self.set(key, Ok(PyString::new(self.py, &s).into_any()));
    }
    fn texts(&mut self, key: &'static str, l: &StrList<'_>) {
        let v = l
            .iter()
            .map(|s| cstr(self.py, s))
            .collect::<PyResult<Vec<_>>>()
            .and_then(|items| PyList::new(self.py, items))
            .map(|l| l.into_any());
        self.set(key, v);
    }
    fn nums(&mut self, key: &'static str, v: &mut dyn Iterator<Item = u64>) {
        let v = PyList::new(self.py, v.collect::<Vec<u64>>()).map(|l| l.into_any());
        self.set(key, v);
    }
}

/// One token as a dict with `type` (bsmtrail's canonical name), `id`, `offset` (absolute)
/// and its fields (named by `tokens::fields::visit`, as in the Arrow tokens view).
pub(crate) fn token_dict<'py>(
    py: Python<'py>,
    t: &Tok<'_>,
    record_offset: usize,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("type", canonical_name(t.id))?;
    d.set_item("id", t.id)?;
    d.set_item("offset", record_offset + t.offset)?;
    let mut sink = DictSink {
        py,
        d: &d,
        err: None,
    };
    fields::visit(&t.token, &mut sink);
    match sink.err {
        Some(e) => Err(e),
        None => Ok(d),
    }
}
