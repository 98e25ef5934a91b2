//! Calling the user's PHP handler for a task, on the PHP thread, and reading how it ended.

use ext_php_rs::boxed::ZBox;
use ext_php_rs::convert::IntoZval;
use ext_php_rs::types::{ZendCallable, ZendObject};
use ext_php_rs::zend::{ExecutorGlobals, ce};
use stask_engine::{HandlerError, Outcome, Task};

use crate::exceptions::{LeaseLostException, TaskCancelledException, is};
use crate::task::PhpTask;

/// Calls `handler(Task $task)` and classifies the result. An exception is taken out of the
/// engine (so processing continues) unless it is `exit()`'s unwind marker, which is left in
/// place so the script really ends.
///
/// An exception can also be left pending after the handler returned: releasing its return
/// value (or the task object) may run a destructor that throws. It belongs to this task,
/// which fails with it; the next task starts with no exception pending.
pub fn call(handler: &ZendCallable<'_>, task: &Task) -> Outcome {
    let arg = match PhpTask::from(task.clone()).into_zval(false) {
        Ok(zval) => zval,
        Err(e) => {
            return Outcome::Threw(HandlerError {
                class: "STask\\Exception\\StaskException".into(),
                message: format!("could not build the task object: {e}"),
                ..HandlerError::default()
            });
        }
    };
    let called = handler.try_call(vec![&arg]);
    let call_error = match called {
        Ok(returned) => {
            drop(returned);
            None
        }
        Err(e) => Some(e),
    };
    drop(arg);
    let outcome = match pending() {
        Pending::None => match call_error {
            None => Outcome::Returned,
            Some(e) => Outcome::Threw(HandlerError {
                class: "Error".into(),
                message: format!("the handler could not be called: {e}"),
                ..HandlerError::default()
            }),
        },
        Pending::Exit => return Outcome::Exit,
        Pending::Throwable(exception) => {
            let outcome = classify(&exception);
            drop(exception);
            outcome
        }
    };
    // Releasing the exception may run a destructor that throws again: still this task's.
    // The first outcome stands; later ones are taken so that they do not reach the next task.
    for _ in 0..MAX_FOLLOW_UPS {
        match pending() {
            Pending::None => return outcome,
            Pending::Exit => return Outcome::Exit,
            Pending::Throwable(exception) => drop(exception),
        }
    }
    outcome
}

/// How many exceptions thrown while releasing a handler's exception are cleared at most.
const MAX_FOLLOW_UPS: usize = 16;

enum Pending {
    None,
    /// `exit()`/`die()`: a non-Throwable unwind marker, left pending.
    Exit,
    Throwable(ZBox<ZendObject>),
}

/// The exception PHP has pending, taken out of the engine when it is a Throwable.
fn pending() -> Pending {
    let pending_is_throwable = {
        let globals = ExecutorGlobals::get();
        globals.exception().map(|obj| obj.instance_of(ce::throwable()))
    };
    match pending_is_throwable {
        None => Pending::None,
        Some(false) => Pending::Exit,
        Some(true) => match ExecutorGlobals::take_exception() {
            Some(exception) => Pending::Throwable(exception),
            None => Pending::None,
        },
    }
}

fn classify(exception: &ZendObject) -> Outcome {
    if is::<TaskCancelledException>(exception) {
        return Outcome::Cancelled;
    }
    if is::<LeaseLostException>(exception) {
        return Outcome::LeaseLost;
    }
    // Messages are bytes in PHP: ones that are not UTF-8 are kept, with U+FFFD for bad bytes.
    let text = |method: &str| {
        exception
            .try_call_method(method, vec![])
            .ok()
            .and_then(|z| z.zend_str().map(|s| String::from_utf8_lossy(s.as_bytes()).into_owned()))
    };
    Outcome::Threw(HandlerError {
        class: exception.get_class_name().unwrap_or_else(|_| "Throwable".into()),
        message: text("getMessage").unwrap_or_default(),
        file: text("getFile"),
        line: exception.try_call_method("getLine", vec![]).ok().and_then(|z| z.long()),
    })
}
