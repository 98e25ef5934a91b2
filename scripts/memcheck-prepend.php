<?php
// Prepended to the PHPUnit run of `make memcheck`: collects reference cycles once the script
// ends, so that garbage PHP would otherwise leave to the end of the request is freed and
// valgrind's leak report shows only what really leaked.
register_shutdown_function(static function (): void {
    gc_collect_cycles();
});
