//! PHP values ⇄ JSON values. Mirrors `json_encode` / `json_decode($x, true)` for what can be
//! stored, and refuses clearly what cannot: resources, NaN and infinities, strings that are
//! not UTF-8, objects other than `stdClass` and `JsonSerializable`, and structures nested
//! deeper than the engine's [`MAX_DEPTH`] (recursive ones end there too).
//!
//! Floats travel as `f64` and are written by serde_json in their shortest exact form (never
//! through PHP's `precision`/`serialize_precision`), so they read back to the same bits.

use ext_php_rs::boxed::ZBox;
use ext_php_rs::convert::IntoZval;
use ext_php_rs::flags::DataType;
use ext_php_rs::types::{ZendHashTable, ZendObject, Zval};
use ext_php_rs::zend::{ClassEntry, ExecutorGlobals, ce};
use serde_json::{Map, Number, Value};
pub use stask_engine::task::MAX_DEPTH;

/// Why a PHP value cannot become JSON; `path` points at the offending element.
#[derive(Debug)]
pub struct ConvertError {
    pub path: String,
    pub reason: String,
}

impl ConvertError {
    /// "data[rows][3]: a resource cannot be stored"
    pub fn describe(&self, what: &str) -> String {
        // A recursive structure has a very long path: show its start and its end.
        let path = if self.path.len() > 80 {
            let head: String = self.path.chars().take(40).collect();
            let tail: String = self.path.chars().rev().take(20).collect::<Vec<_>>().into_iter().rev().collect();
            format!("{head}…{tail}")
        } else {
            self.path.clone()
        };
        format!("{what}{path}: {}", self.reason)
    }
}

fn fail(path: &str, reason: impl Into<String>) -> ConvertError {
    ConvertError { path: path.to_owned(), reason: reason.into() }
}

/// Converts a PHP value to JSON.
pub fn to_json(zval: &Zval) -> Result<Value, ConvertError> {
    convert(zval, Depth::default())
}

/// Converts a PHP array to JSON.
pub fn array_to_json(ht: &ZendHashTable) -> Result<Value, ConvertError> {
    convert_array(ht, Depth::default())
}

/// Where the converter is: `levels` arrays and objects enclose the value (its depth in the
/// JSON it becomes), and `calls` `jsonSerialize()` calls are under way (one that returns
/// itself would otherwise never end).
#[derive(Debug, Clone, Copy, Default)]
struct Depth {
    levels: usize,
    calls: usize,
}

impl Depth {
    /// Inside one more array or object; refused past [`MAX_DEPTH`].
    fn enter(self) -> Result<Depth, ConvertError> {
        if self.levels >= MAX_DEPTH {
            return Err(fail("", format!("nested more than {MAX_DEPTH} levels deep (is it recursive?)")));
        }
        Ok(Depth { levels: self.levels + 1, ..self })
    }
}

/// Prefixes the path of an error with the element it came from. The path is only built when
/// something fails, so a successful conversion allocates nothing for it.
fn at<T>(result: Result<T, ConvertError>, segment: impl std::fmt::Display) -> Result<T, ConvertError> {
    result.map_err(|mut e| {
        e.path.insert_str(0, &format!("[{segment}]"));
        e
    })
}

fn convert(zval: &Zval, depth: Depth) -> Result<Value, ConvertError> {
    let path = "";
    let zval = zval.dereference();
    let zval = zval.indirect().unwrap_or(zval);
    match zval.get_type() {
        DataType::Null | DataType::Undef => Ok(Value::Null),
        DataType::False => Ok(Value::Bool(false)),
        DataType::True => Ok(Value::Bool(true)),
        DataType::Bool => Ok(Value::Bool(zval.bool().unwrap_or(false))),
        DataType::Long => Ok(Value::Number(zval.long().unwrap_or(0).into())),
        DataType::Double => {
            let f = zval.double().unwrap_or(0.0);
            Number::from_f64(f)
                .map(Value::Number)
                .ok_or_else(|| fail(path, format!("{f} cannot be stored: JSON has no NaN or infinity")))
        }
        DataType::String => match zval.str() {
            Some(s) => Ok(Value::String(s.to_owned())),
            None => Err(fail(path, "the string is not valid UTF-8")),
        },
        DataType::Array => match zval.array() {
            Some(ht) => convert_array(ht, depth),
            None => Ok(Value::Array(Vec::new())),
        },
        DataType::Object(_) => match zval.object() {
            Some(obj) => convert_object(obj, depth),
            None => Err(fail(path, "unreadable object")),
        },
        DataType::Resource => Err(fail(path, "a resource (file handle, connection …) cannot be stored")),
        other => Err(fail(path, format!("a value of type {other} cannot be stored"))),
    }
}

fn convert_array(ht: &ZendHashTable, depth: Depth) -> Result<Value, ConvertError> {
    let inner = depth.enter()?;
    let mut iter = ht.iter();
    if is_list(ht) {
        let mut list = Vec::with_capacity(ht.len());
        let mut i = 0usize;
        while let Some((_, value)) = iter.next_zval() {
            list.push(at(convert(value, inner), i)?);
            i += 1;
        }
        return Ok(Value::Array(list));
    }
    let mut map = Map::with_capacity(ht.len());
    while let Some((key, value)) = iter.next_zval() {
        let key = if let Some(n) = key.long() {
            n.to_string()
        } else {
            match key.str() {
                Some(s) => s.to_owned(),
                None => return Err(fail("", "an array key is not valid UTF-8")),
            }
        };
        let converted = match convert(value, inner) {
            Ok(v) => v,
            Err(e) => return at(Err(e), &key),
        };
        map.insert(key, converted);
    }
    Ok(Value::Object(map))
}

/// Keys 0, 1, 2, … in order. (ext-php-rs's own check panics on keys that are not UTF-8.)
fn is_list(ht: &ZendHashTable) -> bool {
    let mut iter = ht.iter();
    let mut expected = 0i64;
    while let Some((key, _)) = iter.next_zval() {
        if key.long() != Some(expected) {
            return false;
        }
        expected += 1;
    }
    true
}

fn convert_object(obj: &ZendObject, depth: Depth) -> Result<Value, ConvertError> {
    let path = "";
    let class = obj.get_class_name().unwrap_or_else(|_| "object".into());
    if let Some(json_serializable) = ClassEntry::try_find("JsonSerializable")
        && obj.instance_of(json_serializable)
    {
        let value = obj
            .try_call_method("jsonSerialize", vec![])
            .map_err(|_| fail(path, format!("{class}::jsonSerialize() failed")))?;
        if ExecutorGlobals::has_exception() {
            return Err(fail(path, format!("{class}::jsonSerialize() threw an exception")));
        }
        // What it returns takes the object's place: no level of its own.
        if depth.calls >= MAX_DEPTH {
            return Err(fail(path, format!("{class}::jsonSerialize() calls nest more than {MAX_DEPTH} deep")));
        }
        return convert(&value, Depth { calls: depth.calls + 1, ..depth });
    }
    if std::ptr::eq(obj.get_class_entry(), ce::stdclass()) {
        let props = obj.get_properties().map_err(|_| fail(path, "unreadable stdClass"))?;
        return match convert_array(props, depth)? {
            // An empty stdClass is an empty JSON object, not a list.
            Value::Array(list) if list.is_empty() => Ok(Value::Object(Map::new())),
            other => Ok(other),
        };
    }
    Err(fail(
        path,
        format!(
            "an object of class {class} cannot be stored: pass an array, a scalar, a stdClass or a JsonSerializable"
        ),
    ))
}

/// Converts JSON to a PHP value, like `json_decode($json, true)`.
pub fn to_zval(value: &Value) -> Zval {
    let mut zval = Zval::new();
    match value {
        Value::Null => zval.set_null(),
        Value::Bool(b) => zval.set_bool(*b),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                zval.set_long(i);
            } else {
                zval.set_double(n.as_f64().unwrap_or(0.0));
            }
        }
        Value::String(s) => {
            if zval.set_string(s, false).is_err() {
                zval.set_null();
            }
        }
        Value::Array(list) => zval.set_hashtable(list_array(list)),
        Value::Object(map) => zval.set_hashtable(map_array(map)),
    }
    zval
}

fn list_array(list: &[Value]) -> ZBox<ZendHashTable> {
    let mut ht = ZendHashTable::with_capacity(u32::try_from(list.len()).unwrap_or(u32::MAX));
    for item in list {
        let _ = ht.push(to_zval(item));
    }
    ht
}

fn map_array(map: &Map<String, Value>) -> ZBox<ZendHashTable> {
    let mut ht = ZendHashTable::with_capacity(u32::try_from(map.len()).unwrap_or(u32::MAX));
    for (key, item) in map {
        // A &str key is canonicalised: "5" becomes the integer key 5, as in PHP.
        let _ = ht.insert(key.as_str(), to_zval(item));
    }
    ht
}

/// A JSON array or object as a PHP array; any other value is wrapped as `[value]`.
pub fn to_array(value: &Value) -> ZBox<ZendHashTable> {
    match value {
        Value::Array(list) => list_array(list),
        Value::Object(map) => map_array(map),
        other => list_array(std::slice::from_ref(other)),
    }
}

/// Builds a PHP array from key/value pairs.
pub fn assoc(pairs: Vec<(&str, Zval)>) -> ZBox<ZendHashTable> {
    let mut ht = ZendHashTable::with_capacity(u32::try_from(pairs.len()).unwrap_or(u32::MAX));
    for (key, value) in pairs {
        let _ = ht.insert(key, value);
    }
    ht
}

/// Shorthand for scalar zvals.
pub fn zv<T: IntoZval>(value: T) -> Zval {
    value.into_zval(false).unwrap_or_else(|_| Zval::null())
}
