//! Reading PHP arrays of options into engine types, with a clear error for every bad key.

use ext_php_rs::exception::PhpResult;
use ext_php_rs::flags::DataType;
use ext_php_rs::types::{ZendHashTable, Zval};
use ext_php_rs::zend::ClassEntry;
use serde_json::Value;
use stask_engine::{Config, JournalMode, NewTask, Priority, ProgressUpdate};

use crate::convert;
use crate::exceptions::{config, invalid};

/// The keys of an array, with their values; keys that are not strings are refused.
fn entries<'a>(ht: &'a ZendHashTable, what: &str) -> Result<Vec<(String, &'a Zval)>, String> {
    let mut out = Vec::with_capacity(ht.len());
    let mut iter = ht.iter();
    while let Some((key, value)) = iter.next_zval() {
        match key.str() {
            Some(k) => out.push((k.to_owned(), value.dereference())),
            None => return Err(format!("{what} must be an array with string keys")),
        }
    }
    Ok(out)
}

fn int(value: &Zval, name: &str) -> Result<i64, String> {
    value.long().ok_or_else(|| format!("{name} must be an integer, got {}", type_name(value)))
}

fn number(value: &Zval, name: &str) -> Result<f64, String> {
    match value.get_type() {
        DataType::Long => Ok(value.long().unwrap_or(0) as f64),
        DataType::Double => {
            value.double().filter(|f| f.is_finite()).ok_or_else(|| format!("{name} must be a finite number"))
        }
        _ => Err(format!("{name} must be a number, got {}", type_name(value))),
    }
}

fn string(value: &Zval, name: &str) -> Result<String, String> {
    if value.is_string() {
        value.str().map(str::to_owned).ok_or_else(|| format!("{name} is not valid UTF-8"))
    } else {
        Err(format!("{name} must be a string, got {}", type_name(value)))
    }
}

fn boolean(value: &Zval, name: &str) -> Result<bool, String> {
    value.bool().ok_or_else(|| format!("{name} must be a boolean, got {}", type_name(value)))
}

pub fn type_name(value: &Zval) -> String {
    match value.get_type() {
        DataType::Null => "null".into(),
        DataType::False | DataType::True | DataType::Bool => "bool".into(),
        DataType::Long => "int".into(),
        DataType::Double => "float".into(),
        DataType::String => "string".into(),
        DataType::Array => "array".into(),
        DataType::Object(_) => value.object().and_then(|o| o.get_class_name().ok()).unwrap_or_else(|| "object".into()),
        other => other.to_string(),
    }
}

const ENGINE_OPTIONS: &str = "prefix, storage, files, leaseSeconds, maxAttempts, backoff, progressIntervalMs, busyTimeoutMs, worker, lifecycleLog";

/// Engine URL plus the constructor's options.
pub fn engine_config(url: &str, options: Option<&ZendHashTable>) -> PhpResult<Config> {
    let mut cfg = Config::from_url(url).map_err(crate::exceptions::to_php)?;
    let Some(options) = options else { return Ok(cfg) };
    for (key, value) in entries(options, "options").map_err(config)? {
        let conf = config;
        match key.as_str() {
            "prefix" => cfg.prefix = string(value, "prefix").map_err(conf)?,
            "storage" => cfg.storage_dir = string(value, "storage").map_err(conf)?.into(),
            "leaseSeconds" => cfg.lease_ms = (number(value, "leaseSeconds").map_err(conf)? * 1000.0) as i64,
            "maxAttempts" => cfg.max_attempts = int(value, "maxAttempts").map_err(conf)?,
            "progressIntervalMs" => cfg.progress_interval_ms = int(value, "progressIntervalMs").map_err(conf)?,
            "busyTimeoutMs" => cfg.busy_timeout_ms = int(value, "busyTimeoutMs").map_err(conf)?,
            "worker" => cfg.worker_name = Some(string(value, "worker").map_err(conf)?),
            "lifecycleLog" => cfg.lifecycle_log = boolean(value, "lifecycleLog").map_err(conf)?,
            "files" => {
                cfg.journal = match string(value, "files").map_err(conf)?.as_str() {
                    "local" => JournalMode::Files,
                    "database" => JournalMode::Database,
                    other => {
                        return Err(config(format!(
                            "files must be \"local\" or \"database\", got \"{}\"",
                            other.escape_debug()
                        )));
                    }
                }
            }
            "backoff" => backoff(&mut cfg, value).map_err(conf)?,
            other => {
                return Err(config(format!(
                    "unknown option \"{}\"; known options: {ENGINE_OPTIONS}",
                    other.escape_debug()
                )));
            }
        }
    }
    cfg.validate().map_err(crate::exceptions::to_php)?;
    Ok(cfg)
}

/// `backoff` is the base delay in seconds, or `['base' => s, 'factor' => f, 'max' => s, 'jitter' => 0..1]`.
fn backoff(cfg: &mut Config, value: &Zval) -> Result<(), String> {
    if let Some(ht) = value.array() {
        for (key, v) in entries(ht, "backoff")? {
            match key.as_str() {
                "base" => cfg.retry.base_ms = (number(v, "backoff.base")? * 1000.0) as i64,
                "factor" => cfg.retry.factor = number(v, "backoff.factor")?,
                "max" => cfg.retry.max_ms = (number(v, "backoff.max")? * 1000.0) as i64,
                "jitter" => cfg.retry.jitter = number(v, "backoff.jitter")?,
                other => {
                    return Err(format!(
                        "unknown backoff key \"{}\"; use base, factor, max, jitter",
                        other.escape_debug()
                    ));
                }
            }
        }
        Ok(())
    } else {
        cfg.retry.base_ms = (number(value, "backoff")? * 1000.0) as i64;
        Ok(())
    }
}

/// A point in time given as Unix seconds (int or float) or a `DateTimeInterface`.
fn timestamp_ms(value: &Zval, name: &str) -> Result<i64, String> {
    if let Some(obj) = value.object() {
        let is_date = ClassEntry::try_find("DateTimeInterface").is_some_and(|ce| obj.instance_of(ce));
        if !is_date {
            return Err(format!("{name} must be a Unix timestamp or a DateTimeInterface"));
        }
        let formatted = obj
            .try_call_method("format", vec![&"U.u"])
            .ok()
            .and_then(|z| z.str().map(str::to_owned))
            .ok_or_else(|| format!("{name}: the date could not be read"))?;
        let secs: f64 = formatted.parse().map_err(|_| format!("{name}: the date could not be read"))?;
        return Ok((secs * 1000.0).round() as i64);
    }
    Ok((number(value, name)? * 1000.0).round() as i64)
}

/// The per-task options of `create()`, also accepted inline by `createMany()`.
fn apply_task_option(task: &mut NewTask, key: &str, value: &Zval) -> Result<bool, String> {
    match key {
        "maxAttempts" => task.max_attempts = Some(int(value, "maxAttempts")?),
        "availableAt" => {
            if !value.is_null() {
                task.available_at = Some(timestamp_ms(value, "availableAt")?);
            }
        }
        "delay" => {
            let secs = number(value, "delay")?;
            if secs < 0.0 {
                return Err("delay must not be negative".into());
            }
            task.available_at = Some(stask_engine::time::now_ms() + (secs * 1000.0).round() as i64);
        }
        "unique" => {
            if !value.is_null() {
                task.unique_key = Some(string(value, "unique")?);
            }
        }
        "userId" => {
            if !value.is_null() {
                task.started_by = Some(int(value, "userId")?);
            }
        }
        _ => return Ok(false),
    }
    Ok(true)
}

const TASK_OPTIONS: &str = "maxAttempts, availableAt, delay, userId, unique";

pub fn new_task(
    identifier: &str,
    action: &str,
    data: Option<&ZendHashTable>,
    priority: &str,
    options: Option<&ZendHashTable>,
) -> PhpResult<NewTask> {
    let data = match data {
        Some(ht) => convert::array_to_json(ht).map_err(|e| invalid(e.describe("data")))?,
        None => Value::Array(Vec::new()),
    };
    let mut task = NewTask::new(identifier, action, data);
    task.priority = Priority::parse(priority).map_err(crate::exceptions::to_php)?;
    if let Some(options) = options {
        for (key, value) in entries(options, "options").map_err(invalid)? {
            if !apply_task_option(&mut task, &key, value).map_err(invalid)? {
                return Err(invalid(format!(
                    "unknown task option \"{}\"; known options: {TASK_OPTIONS}",
                    key.escape_debug()
                )));
            }
        }
    }
    Ok(task)
}

/// One element of `createMany()`: `['identifier' => …, 'action' => …, 'data' => […], 'priority' => …, …options]`.
pub fn new_task_from_array(value: &Zval, index: usize) -> PhpResult<NewTask> {
    let at = |msg: String| invalid(format!("tasks[{index}]: {msg}"));
    let ht = value.array().ok_or_else(|| at(format!("must be an array, got {}", type_name(value))))?;
    let mut identifier = None;
    let mut action = None;
    let mut data = Value::Array(Vec::new());
    let mut priority = Priority::Normal;
    let mut task = NewTask::new("", "", Value::Null);
    for (key, v) in entries(ht, "task").map_err(at)? {
        match key.as_str() {
            "identifier" => identifier = Some(string(v, "identifier").map_err(at)?),
            "action" => action = Some(string(v, "action").map_err(at)?),
            "priority" => {
                priority = Priority::parse(&string(v, "priority").map_err(at)?).map_err(|e| at(e.to_string()))?
            }
            "data" => {
                let ht = v.array().ok_or_else(|| at(format!("data must be an array, got {}", type_name(v))))?;
                data = convert::array_to_json(ht).map_err(|e| at(e.describe("data")))?;
            }
            other => {
                if !apply_task_option(&mut task, other, v).map_err(at)? {
                    return Err(at(format!(
                        "unknown key \"{}\"; use identifier, action, data, priority, {TASK_OPTIONS}",
                        other.escape_debug()
                    )));
                }
            }
        }
    }
    task.identifier = identifier.ok_or_else(|| at("identifier is missing".into()))?;
    task.action = action.ok_or_else(|| at("action is missing".into()))?;
    task.data = data;
    task.priority = priority;
    Ok(task)
}

/// `pushProgress()`'s array: progress, processed, total, message, eta.
pub fn progress_update(ht: &ZendHashTable) -> PhpResult<ProgressUpdate> {
    let mut update = ProgressUpdate::default();
    for (key, value) in entries(ht, "progress").map_err(invalid)? {
        if value.is_null() && key != "message" {
            continue;
        }
        match key.as_str() {
            "progress" => update.progress = Some(number(value, "progress").map_err(invalid)?),
            "processed" => update.processed = Some(int(value, "processed").map_err(invalid)?),
            "total" => update.total = Some(int(value, "total").map_err(invalid)?),
            "message" => {
                update.message = if value.is_null() { None } else { Some(string(value, "message").map_err(invalid)?) }
            }
            "eta" => update.eta_seconds = Some(int(value, "eta").map_err(invalid)?),
            other => {
                return Err(invalid(format!(
                    "unknown progress key \"{}\"; use progress, processed, total, message, eta",
                    other.escape_debug()
                )));
            }
        }
    }
    Ok(update)
}
