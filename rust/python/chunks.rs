//! Byte-range chunks to Python (`crate::chunks`): `chunk_boundaries` and `chunk_span`
//! (the byte ranges are read as `TrailSlice`s, `super::source`).

use super::source::source_from;
use crate::chunks::{self, Params, Window, DEFAULT_AHEAD, DEFAULT_LOOKBACK};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// `(start, end, None)`, or `(0, 0, Some((lo, hi)))` when more bytes are needed.
type SpanOrNeed = (usize, usize, Option<(usize, usize)>);

fn params(lookback: usize, ahead: usize) -> PyResult<Params> {
    if ahead == 0 {
        return Err(PyValueError::new_err("ahead must be at least 1"));
    }
    Ok(Params { lookback, ahead })
}

/// Chunk boundaries of a whole trail: `n + 1` offsets from 0 to its length; chunk `i`
/// is the bytes `[b[i], b[i + 1])` (see `docs/dask.md` for the guarantee). Cut into
/// `n_chunks`, every `chunk_bytes`, or at the given `splits`.
#[pyfunction]
#[pyo3(signature = (
    source, n_chunks = None, chunk_bytes = None, *, splits = None,
    lookback = DEFAULT_LOOKBACK, ahead = DEFAULT_AHEAD
))]
fn chunk_boundaries(
    py: Python<'_>,
    source: &Bound<'_, PyAny>,
    n_chunks: Option<usize>,
    chunk_bytes: Option<usize>,
    splits: Option<Vec<usize>>,
    lookback: usize,
    ahead: usize,
) -> PyResult<Vec<usize>> {
    let p = params(lookback, ahead)?;
    let src = source_from(source)?;
    let total = src.bytes().len();
    let cb = match (n_chunks, chunk_bytes, &splits) {
        (Some(n), None, None) if n > 0 => chunks::chunk_bytes_for(total, n),
        (None, Some(c), None) if c > 0 => c,
        (None, None, Some(_)) => 0,
        _ => {
            return Err(PyValueError::new_err(
                "give exactly one of n_chunks, chunk_bytes (at least 1) and splits",
            ))
        }
    };
    Ok(py.detach(move || match splits {
        Some(s) => chunks::boundaries_at(src.bytes(), &s, p),
        None => chunks::boundaries(src.bytes(), cb, p),
    }))
}

/// `(start, end, need)` for chunk `index` of a file of `total` bytes cut every
/// `chunk_bytes`, given `source` = the file's bytes from offset `base`. `need` is None
/// when `(start, end)` is the answer, else the `(lo, hi)` byte range to hold and ask
/// again with.
#[pyfunction]
#[pyo3(signature = (
    source, index, chunk_bytes, *, base = 0, total = None, lookback = DEFAULT_LOOKBACK,
    ahead = DEFAULT_AHEAD
))]
#[allow(clippy::too_many_arguments)]
fn chunk_span(
    py: Python<'_>,
    source: &Bound<'_, PyAny>,
    index: usize,
    chunk_bytes: usize,
    base: usize,
    total: Option<usize>,
    lookback: usize,
    ahead: usize,
) -> PyResult<SpanOrNeed> {
    let p = params(lookback, ahead)?;
    if chunk_bytes == 0 {
        return Err(PyValueError::new_err("chunk_bytes must be at least 1"));
    }
    let src = source_from(source)?;
    let len = src.bytes().len();
    let total = total.unwrap_or(base + len);
    if !matches!(base.checked_add(len), Some(end) if end <= total) {
        return Err(PyValueError::new_err(format!(
            "{len} bytes at offset {base} do not fit in a {total}-byte file"
        )));
    }
    let r = py.detach(move || {
        let w = Window {
            bytes: src.bytes(),
            base,
            total,
        };
        chunks::chunk_span(&w, index, chunk_bytes, p)
    });
    Ok(match r {
        Ok((s, e)) => (s, e, None),
        Err(n) => (0, 0, Some((n.lo, n.hi))),
    })
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(chunk_boundaries, m)?)?;
    m.add_function(wrap_pyfunction!(chunk_span, m)?)?;
    m.add("CHUNK_LOOKBACK", DEFAULT_LOOKBACK)?;
    m.add("CHUNK_AHEAD", DEFAULT_AHEAD)?;
    Ok(())
}
