//! The `stask` PHP extension: the sTask engine's native API for PHP.
//!
//! This crate is the only code that touches ext-php-rs; everything else lives in the engine
//! crate (`engine/`).
//!
//! - [`engine`]: `STask\Engine`, the API.
//! - [`task`]: `STask\Task`, a read-only task.
//! - [`exceptions`]: the `STask\Exception\…` hierarchy and the mapping of engine errors.
//! - [`dispatch`]: calling a PHP handler and classifying how it ended.
//! - [`convert`]: PHP values ⇄ JSON.
//! - [`options`]: PHP option arrays → engine types.
//! - [`guard`]: no panic crosses into PHP.
#![cfg_attr(windows, feature(abi_vectorcall))]

mod convert;
mod dispatch;
mod engine;
mod exceptions;
mod guard;
mod options;
mod task;

use ext_php_rs::prelude::*;
use ext_php_rs::zend::ModuleEntry;
use ext_php_rs::{info_table_end, info_table_row, info_table_start};

/// phpinfo() section.
extern "C" fn php_module_info(_module: *mut ModuleEntry) {
    info_table_start!();
    info_table_row!("stask support", "enabled");
    info_table_row!("version", env!("CARGO_PKG_VERSION"));
    info_table_row!("backends", "sqlite, postgres, mysql/mariadb");
    info_table_end!();
}

/// Runs at module start: only a panic hook. Connections, threads and runtimes are created
/// lazily inside the process that uses them (php-fpm forks after module start).
fn startup(_ty: i32, _module_number: i32) -> i32 {
    guard::install_quiet_panic_hook();
    0
}

#[php_module]
#[php(startup = startup)]
pub fn get_module(module: ModuleBuilder) -> ModuleBuilder {
    module
        .class::<exceptions::StaskException>()
        .class::<exceptions::InvalidArgumentException>()
        .class::<exceptions::ConfigurationException>()
        .class::<exceptions::NotFoundException>()
        .class::<exceptions::StateException>()
        .class::<exceptions::LeaseLostException>()
        .class::<exceptions::TaskCancelledException>()
        .class::<exceptions::StorageException>()
        .class::<exceptions::DatabaseException>()
        .class::<exceptions::ConnectionException>()
        .class::<task::PhpTask>()
        .class::<engine::PhpEngine>()
        .info_function(php_module_info)
}
