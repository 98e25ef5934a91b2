//! Calling the user's PHP handler for a task, on the PHP thread, and reading how it ended.

use ext_php_rs::convert::IntoZval;
use ext_php_rs::types::{ZendCallable, ZendObject};
use ext_php_rs::zend::{ExecutorGlobals, ce};
use stask_engine::{HandlerError, Outcome, Task};

use crate::exceptions::{LeaseLostException, TaskCancelledException, is};
use crate::task::PhpTask;

/// Calls `handler(Task $task)` and classifies the result. An exception is taken out of the
/// engine (so processing continues) unless it is `exit()`'s unwind marker, which is left in
/// place so the script really ends.
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
    match handler.try_call(vec![&arg]) {
        Ok(_) => Outcome::Returned,
        Err(call_error) => {
            let pending_is_throwable = {
                let globals = ExecutorGlobals::get();
                globals.exception().map(|obj| obj.instance_of(ce::throwable()))
            };
            match pending_is_throwable {
                // exit()/die(): a non-Throwable unwind marker. Leave it pending.
                Some(false) => Outcome::Exit,
                Some(true) => match ExecutorGlobals::take_exception() {
                    Some(exception) => classify(&exception),
                    None => Outcome::Exit,
                },
                None => Outcome::Threw(HandlerError {
                    class: "Error".into(),
                    message: format!("the handler could not be called: {call_error}"),
                    ..HandlerError::default()
                }),
            }
        }
    }
}

fn classify(exception: &ZendObject) -> Outcome {
    if is::<TaskCancelledException>(exception) {
        return Outcome::Cancelled;
    }
    if is::<LeaseLostException>(exception) {
        return Outcome::LeaseLost;
    }
    let text = |method: &str| exception.try_call_method(method, vec![]).ok().and_then(|z| z.str().map(str::to_owned));
    Outcome::Threw(HandlerError {
        class: exception.get_class_name().unwrap_or_else(|_| "Throwable".into()),
        message: text("getMessage").unwrap_or_default(),
        file: text("getFile"),
        line: exception.try_call_method("getLine", vec![]).ok().and_then(|z| z.long()),
    })
}
