<?php
declare(strict_types=1);

/*
 * Worker discovery over 100 generated Composer packages (10 classes each, a worker in every
 * fifth package): the native scan vs upstream sTask's approach (a classmap of every class,
 * each autoloaded and reflected). Median of 5 runs; the PHP approach runs in a fresh process
 * each time because loaded classes cannot be unloaded. Not a test: nothing is asserted.
 *
 *   make bench   (or: php -d extension=target/release/libstask.so bench/discovery.php)
 */

const PACKAGES = 100;
const CLASSES = 10;
const REPS = 5;

if (($argv[1] ?? '') === '--upstream') {
    // Child process: upstream's method on a generated classmap.
    [$_, $_, $root] = $argv;
    spl_autoload_register(function (string $class) use ($root): void {
        $map = $GLOBALS['classmap'] ??= require "$root/vendor/composer/autoload_classmap.php";
        if (isset($map[$class])) {
            require $map[$class];
        }
    });
    eval('namespace Seiger\sTask\Contracts; interface TaskInterface {}');
    eval('namespace Seiger\sTask\Workers; abstract class BaseWorker implements \Seiger\sTask\Contracts\TaskInterface {}');
    $t = hrtime(true);
    $found = [];
    foreach (array_keys(require "$root/vendor/composer/autoload_classmap.php") as $class) {
        if (class_exists($class)) {
            $r = new ReflectionClass($class);
            if ($r->implementsInterface('Seiger\sTask\Contracts\TaskInterface') && !$r->isAbstract()) {
                $found[] = $class;
            }
        }
    }
    echo json_encode(['ms' => (hrtime(true) - $t) / 1e6, 'found' => count($found)]);
    exit;
}

if (!extension_loaded('stask')) {
    fwrite(STDERR, "Load the extension: make bench\n");
    exit(1);
}

$root = sys_get_temp_dir() . '/stask-discovery-bench-' . getmypid();
register_shutdown_function(fn () => exec('rm -rf ' . escapeshellarg($root)));
$installed = [];
$classmap = [];
for ($p = 0; $p < PACKAGES; $p++) {
    $name = "vendor$p/package$p";
    $ns = "Vendor$p\\Package$p";
    $dir = "$root/vendor/$name/src";
    mkdir("$dir/Sub", 0777, true);
    $installed[] = ['name' => $name, 'install-path' => "../$name", 'autoload' => ['psr-4' => ["$ns\\" => 'src/']]];
    for ($c = 0; $c < CLASSES; $c++) {
        $worker = $p % 5 === 0 && $c === 0;
        $class = $worker ? "Worker$c" : "Service$c";
        $file = $c % 2 ? "$dir/Sub/$class.php" : "$dir/$class.php";
        $subNs = $c % 2 ? "$ns\\Sub" : $ns;
        $body = $worker
            ? "use Seiger\\sTask\\Workers\\BaseWorker;\n\nfinal class $class extends BaseWorker\n{\n    public function taskRun(): void {}\n}\n"
            : "final class $class extends \\ArrayObject implements \\Countable, \\JsonSerializable\n{\n    public function jsonSerialize(): mixed { return ['class' => self::class]; }\n"
                . implode('', array_map(fn ($m) => "    public function method$m(): int { return $m; }\n", range(1, 20))) . "}\n";
        file_put_contents($file, "<?php\n\nnamespace $subNs;\n\n$body");
        $classmap["$subNs\\$class"] = $file;
    }
}
mkdir("$root/vendor/composer", 0777, true);
file_put_contents("$root/vendor/composer/installed.json", json_encode(['packages' => $installed]));
file_put_contents("$root/vendor/composer/autoload_classmap.php", '<?php return ' . var_export($classmap, true) . ';');

$roots = ['Seiger\sTask\Workers\BaseWorker', 'Seiger\sTask\Contracts\TaskInterface'];
STask\Engine::discoverWorkers($root, $roots); // warm the page cache, as on a live site
$native = [];
for ($i = 0; $i < REPS; $i++) {
    $scan = STask\Engine::discoverWorkers($root, $roots);
    $native[] = $scan['elapsedMs'];
}
// With the declaration cache the provider uses (storage/stask/discovery-cache.json): a rescan
// reads only files whose size or modification time changed.
$cacheFile = "$root/discovery-cache.json";
STask\Engine::discoverWorkers($root, $roots, null, $cacheFile);
$cached = [];
for ($i = 0; $i < REPS; $i++) {
    $warm = STask\Engine::discoverWorkers($root, $roots, null, $cacheFile);
    $cached[] = $warm['elapsedMs'];
}
$upstream = [];
for ($i = 0; $i < REPS; $i++) {
    $result = json_decode((string) shell_exec(escapeshellarg(PHP_BINARY) . ' ' . escapeshellarg(__FILE__) . ' --upstream ' . escapeshellarg($root)), true);
    $upstream[] = $result['ms'];
    $upstreamFound = $result['found'];
}
sort($native);
sort($upstream);
sort($cached);
$n = $native[intdiv(REPS, 2)];
$u = $upstream[intdiv(REPS, 2)];
$c = $cached[intdiv(REPS, 2)];
if (in_array('--json', $argv, true)) {
    // For bench/compare.php's tables.
    echo json_encode(['native' => $n, 'cached' => $c, 'upstream' => $u, 'files' => PACKAGES * CLASSES, 'workers' => count($scan['candidates'])]), "\n";
    exit(0);
}
printf("Worker discovery over %d packages, %d PHP files (%d workers); median of %d runs\n\n", PACKAGES, PACKAGES * CLASSES, count($scan['candidates']), REPS);
printf("%-52s %10s\n", 'method', 'ms');
printf("%-52s %10.2f\n", 'native scan, every file read (first scan)', $n);
printf("%-52s %10.2f   target ≤ 10 ms %s (%d files re-read)\n", 'native scan with the declaration cache (rescans)', $c, $c <= 10 ? '✓' : '✗', $warm['parsed']);
printf("%-52s %10.2f   (found %d)\n", "upstream's: autoload + reflect every classmap class", $u, $upstreamFound);
printf("\nratio: %.1f× (first scan) and %.1f× (rescans) faster than upstream's, which also loads every class\n", $u / $n, $u / $c);
