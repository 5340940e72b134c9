//! Columns derived from a decoded column by a table: the event database's name,
//! description and classes of each row's event, the evidence's user and group names of
//! its ids, the label of its input.
//!
//! The tables are data handed over once (the Python layer reads `audit_event`, `passwd`
//! and `group`); each batch gets its derived columns on the worker that decoded it, so a
//! batch leaves the worker whole and an export can encode it there too. A derived column
//! is dictionary-encoded over the table's values (`int32` keys; a list of them for
//! `list` columns such as the event's classes), and null where the row's key is null or
//! the table lacks it.

use super::schema::Col;
use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, UInt64Type};
use arrow_array::{
    Array, ArrayRef, DictionaryArray, Int32Array, ListArray, PrimitiveArray, RecordBatch,
};
use arrow_buffer::{BooleanBufferBuilder, NullBuffer, OffsetBuffer};
use arrow_cast::cast::{cast_with_options, CastOptions};
use arrow_schema::{ArrowError, DataType, Field, FieldRef, Schema, SchemaRef};
use std::collections::HashMap;
use std::sync::Arc;

/// A column made from another one by a table: key -> dictionary codes.
#[derive(Debug)]
pub struct Derived {
    name: String,
    /// The records column whose values are the keys (a dictionary column's keys).
    from: Col,
    /// Key -> its run of codes in `codes` (start, length).
    runs: HashMap<u64, (u32, u32), ahash::RandomState>,
    codes: Vec<i32>,
    values: ArrayRef,
    /// A list of codes per row (else exactly one code per key).
    list: bool,
}

impl Derived {
    /// Column `name` read from column `from`: key `keys[i]` has the codes `runs[i]`
    /// (exactly one each unless `list`), indexes into `values` (the dictionary). The first
    /// entry for a key wins.
    pub fn new(
        name: &str,
        from: &str,
        keys: &[u64],
        runs: &[Vec<i32>],
        values: ArrayRef,
        list: bool,
    ) -> Result<Derived, String> {
        let from = Col::from_name(from)
            .ok_or_else(|| format!("derived column {name:?}: no records column {from:?}"))?;
        if keys.len() != runs.len() {
            return Err(format!(
                "derived column {name:?}: {} keys but {} runs",
                keys.len(),
                runs.len()
            ));
        }
        let mut table = HashMap::with_capacity_and_hasher(keys.len(), ahash::RandomState::new());
        let mut codes = Vec::new();
        for (&key, run) in keys.iter().zip(runs) {
            if !list && run.len() != 1 {
                return Err(format!(
                    "derived column {name:?}: key {key} has {} codes, not one",
                    run.len()
                ));
            }
            if let Some(&bad) = run.iter().find(|&&c| c < 0 || c as usize >= values.len()) {
                return Err(format!(
                    "derived column {name:?}: code {bad} is outside its {} values",
                    values.len()
                ));
            }
            let start = u32::try_from(codes.len()).map_err(|_| "too many codes".to_string())?;
            if table.contains_key(&key) {
                continue;
            }
            table.insert(key, (start, run.len() as u32));
            codes.extend_from_slice(run);
        }
        Ok(Derived {
            name: name.to_string(),
            from,
            runs: table,
            codes,
            values,
            list,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The column it reads.
    pub fn from(&self) -> Col {
        self.from
    }

    pub fn field(&self) -> Field {
        let dict = DataType::Dictionary(
            Box::new(DataType::Int32),
            Box::new(self.values.data_type().clone()),
        );
        let ty = if self.list {
            DataType::List(Arc::new(Field::new("item", dict, true)))
        } else {
            dict
        };
        Field::new(&self.name, ty, true)
    }

    /// The derived column for a batch's `from` column.
    pub fn column(&self, source: &dyn Array) -> Result<ArrayRef, ArrowError> {
        self.lookup(key_values(source)?.as_primitive())
    }

    /// The derived column for its source's keys ([`key_values`]).
    fn lookup(&self, keys: &PrimitiveArray<UInt64Type>) -> Result<ArrayRef, ArrowError> {
        let len = keys.len();
        let mut valid = BooleanBufferBuilder::new(len);
        let found = keys
            .iter()
            .map(|k| k.and_then(|k| self.runs.get(&k).copied()));
        if !self.list {
            let mut out = Vec::with_capacity(len);
            for run in found {
                valid.append(run.is_some());
                out.push(run.map_or(0, |(start, _)| self.codes[start as usize]));
            }
            let nulls = NullBuffer::new(valid.finish());
            let keys = Int32Array::new(out.into(), Some(nulls).filter(|n| n.null_count() > 0));
            return Ok(Arc::new(DictionaryArray::<Int32Type>::try_new(
                keys,
                self.values.clone(),
            )?));
        }
        let mut offsets = Vec::with_capacity(len + 1);
        offsets.push(0i32);
        let mut flat = Vec::new();
        for run in found {
            valid.append(run.is_some());
            if let Some((start, n)) = run {
                flat.extend_from_slice(&self.codes[start as usize..(start + n) as usize]);
            }
            let end = i32::try_from(flat.len())
                .map_err(|_| ArrowError::ComputeError("derived list too long".into()))?;
            offsets.push(end);
        }
        let child = DictionaryArray::<Int32Type>::try_new(flat.into(), self.values.clone())?;
        let DataType::List(item) = self.field().data_type().clone() else {
            unreachable!("a list column's field is a list")
        };
        let nulls = NullBuffer::new(valid.finish());
        Ok(Arc::new(ListArray::try_new(
            item,
            OffsetBuffer::new(offsets.into()),
            Arc::new(child),
            Some(nulls).filter(|n| n.null_count() > 0),
        )?))
    }
}

/// A column's values as `u64` keys: a dictionary column's keys, an integer column's
/// values; a value no `u64` holds (negative) is null.
fn key_values(source: &dyn Array) -> Result<ArrayRef, ArrowError> {
    let opts = CastOptions {
        safe: true,
        ..CastOptions::default()
    };
    match source.data_type() {
        DataType::Dictionary(..) => {
            let keys = source.as_any_dictionary().keys();
            cast_with_options(keys, &DataType::UInt64, &opts)
        }
        t if t.is_integer() => cast_with_options(source, &DataType::UInt64, &opts),
        t => Err(ArrowError::InvalidArgumentError(format!(
            "a derived column reads integer or dictionary keys, not {t}"
        ))),
    }
}

/// What a records stream gives out: its columns in order, each decoded or derived.
#[derive(Debug)]
pub struct Shape {
    out: Vec<Out>,
}

#[derive(Debug)]
enum Out {
    /// The decoded batch's column at this index.
    Decoded(usize),
    /// Derived from the decoded batch's column at this index.
    Derived(Arc<Derived>, usize),
}

/// The records columns to decode for `names` (in order; a name is a records column or
/// one of `derived`), and, when any is derived, the shape that makes the output from
/// them. A derived column's source is decoded even when not asked for.
pub fn plan(
    names: &[String],
    derived: Vec<Derived>,
) -> Result<(Vec<Col>, Option<Arc<Shape>>), String> {
    let unique: std::collections::HashSet<&String> = names.iter().collect();
    if names.is_empty() || unique.len() != names.len() {
        return Err("columns must name at least one column, each once".into());
    }
    let mut derived: HashMap<String, Arc<Derived>> = derived
        .into_iter()
        .map(|d| (d.name.clone(), Arc::new(d)))
        .collect();
    let mut decode: Vec<Col> = Vec::new();
    let mut made = Vec::new();
    for n in names {
        if let Some(c) = Col::from_name(n) {
            decode.push(c);
        } else if let Some(d) = derived.remove(n) {
            made.push(d);
        } else {
            return Err(format!(
                "unknown records column {n:?}; choose from {}",
                Col::ALL
                    .iter()
                    .map(|c| c.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    if made.is_empty() {
        return Ok((decode, None));
    }
    for d in &made {
        if !decode.contains(&d.from) {
            decode.push(d.from);
        }
    }
    let at = |c: Col| decode.iter().position(|&x| x == c).unwrap_or(0);
    let mut made = made.into_iter();
    let out = names
        .iter()
        .map(|n| match Col::from_name(n) {
            Some(c) => Out::Decoded(at(c)),
            None => {
                let d = made.next().expect("one derived column per derived name");
                let from = at(d.from);
                Out::Derived(d, from)
            }
        })
        .collect();
    Ok((decode, Some(Arc::new(Shape { out }))))
}

impl Shape {
    /// The output schema for batches of `decoded` (whose metadata it keeps).
    pub fn schema(&self, decoded: &Schema) -> SchemaRef {
        let fields: Vec<FieldRef> = self
            .out
            .iter()
            .map(|o| match o {
                Out::Decoded(i) => decoded.fields()[*i].clone(),
                Out::Derived(d, _) => Arc::new(d.field()),
            })
            .collect();
        Arc::new(Schema::new_with_metadata(
            fields,
            decoded.metadata().clone(),
        ))
    }

    /// The output batch (of `schema`) for a decoded batch.
    pub fn apply(&self, batch: &RecordBatch, schema: SchemaRef) -> Result<RecordBatch, ArrowError> {
        // Each source's keys once, however many columns read it (the event columns).
        let mut keys: Vec<(usize, ArrayRef)> = Vec::new();
        let mut columns = Vec::with_capacity(self.out.len());
        for o in &self.out {
            columns.push(match o {
                Out::Decoded(i) => batch.column(*i).clone(),
                Out::Derived(d, from) => {
                    let at = match keys.iter().position(|(f, _)| f == from) {
                        Some(at) => at,
                        None => {
                            keys.push((*from, key_values(batch.column(*from).as_ref())?));
                            keys.len() - 1
                        }
                    };
                    d.lookup(keys[at].1.as_primitive())?
                }
            });
        }
        RecordBatch::try_new(schema, columns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{StringArray, UInt16Array, UInt32Array};

    fn names() -> ArrayRef {
        Arc::new(StringArray::from(vec!["AUE_A", "AUE_B"]))
    }

    #[test]
    fn a_scalar_column_looks_up_each_row_and_nulls_the_unknown() {
        let d = Derived::new(
            "event_name",
            "event",
            &[7, 9, 7],
            &[vec![1], vec![0], vec![0]],
            names(),
            false,
        )
        .unwrap();
        let src = UInt16Array::from(vec![Some(9), Some(7), None, Some(8)]);
        let col = d.column(&src).unwrap();
        let col = col.as_dictionary::<Int32Type>();
        let got: Vec<Option<&str>> = col
            .downcast_dict::<StringArray>()
            .unwrap()
            .into_iter()
            .collect();
        // 7 keeps its first entry (code 1).
        assert_eq!(got, vec![Some("AUE_A"), Some("AUE_B"), None, None]);
        assert_eq!(col.data_type(), d.field().data_type());
    }

    #[test]
    fn a_list_column_gives_each_key_its_run_and_known_empty_runs_stay_lists() {
        let d = Derived::new(
            "event_classes",
            "event",
            &[1, 2],
            &[vec![1, 0], vec![]],
            names(),
            true,
        )
        .unwrap();
        let col = d.column(&UInt16Array::from(vec![2, 1, 3])).unwrap();
        let list = col.as_list::<i32>();
        assert!(list.is_valid(0) && list.value(0).is_empty());
        let first = list.value(1);
        let first = first.as_dictionary::<Int32Type>();
        let texts: Vec<_> = first
            .downcast_dict::<StringArray>()
            .unwrap()
            .into_iter()
            .collect();
        assert_eq!(texts, vec![Some("AUE_B"), Some("AUE_A")]);
        assert!(list.is_null(2));
        assert_eq!(col.data_type(), d.field().data_type());
    }

    #[test]
    fn bad_tables_are_refused() {
        assert!(Derived::new("x", "event", &[1], &[vec![2]], names(), false).is_err());
        assert!(Derived::new("x", "event", &[1], &[vec![0, 1]], names(), false).is_err());
        assert!(Derived::new("x", "event", &[1, 2], &[vec![0]], names(), false).is_err());
        assert!(Derived::new("x", "nope", &[1], &[vec![0]], names(), false).is_err());
        let d = Derived::new("x", "auid", &[1], &[vec![0]], names(), false).unwrap();
        let strings = StringArray::from(vec!["1"]);
        assert!(d.column(&strings).is_err());
    }

    #[test]
    fn a_plan_decodes_what_the_derived_columns_read_and_keeps_the_asked_order() {
        let d = Derived::new("auid_name", "auid", &[0], &[vec![0]], names(), false).unwrap();
        let asked = ["auid_name", "time"].map(String::from);
        let (decode, shape) = plan(&asked, vec![d]).unwrap();
        assert_eq!(
            decode,
            vec![
                Col::from_name("time").unwrap(),
                Col::from_name("auid").unwrap()
            ]
        );
        let shape = shape.unwrap();
        let schema = Schema::new(vec![
            Col::from_name("time").unwrap().field(),
            Col::from_name("auid").unwrap().field(),
        ]);
        let out = shape.schema(&schema);
        assert_eq!(out.fields()[0].name(), "auid_name");
        assert_eq!(out.fields()[1].name(), "time");
        let time = Col::from_name("time").unwrap().field();
        let batch = RecordBatch::try_new(
            Arc::new(schema),
            vec![
                arrow_array::new_null_array(time.data_type(), 2),
                Arc::new(UInt32Array::from(vec![0, 5])),
            ],
        )
        .unwrap();
        let got = shape.apply(&batch, out).unwrap();
        assert_eq!(got.num_columns(), 2);
        assert_eq!(got.column(0).null_count(), 1);
        assert!(plan(&["nope".to_string()], vec![]).is_err());
        assert!(plan(&[], vec![]).is_err());
        assert!(plan(&["time".into(), "time".into()], vec![]).is_err());
        let (all, none) = plan(&["time".to_string()], vec![]).unwrap();
        assert_eq!(all.len(), 1);
        assert!(none.is_none());
    }
}
