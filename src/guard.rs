//! No Rust panic reaches PHP: every entry point runs inside [`guarded`], which turns a panic
//! into a `StaskException`. The default panic hook would print to stderr (the FPM log), so
//! ours stays silent; the message travels in the exception instead.

use std::panic::{AssertUnwindSafe, catch_unwind};

use ext_php_rs::exception::{PhpException, PhpResult};

use crate::exceptions::StaskException;

pub fn guarded<T>(body: impl FnOnce() -> PhpResult<T>) -> PhpResult<T> {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(result) => result,
        Err(payload) => {
            let detail = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown cause".into());
            Err(PhpException::from_class::<StaskException>(format!(
                "internal error in the stask extension (please report it): {detail}"
            )))
        }
    }
}

/// Installed once at module start: panics are reported through exceptions, not stderr.
pub fn install_quiet_panic_hook() {
    std::panic::set_hook(Box::new(|_| {}));
}
