<?php

declare(strict_types=1);

namespace Seiger\sTask\Services;

use Illuminate\Http\UploadedFile;
use Seiger\sTask\Exceptions\UploadException;

/**
 * Files a manager uploads for a task (a CSV to import, say), whole or in chunks. They live in
 * `{storage}/uploads` under names this class makes up; a client only ever holds such a name (a
 * token), never a path, and every path is built here from a validated token.
 *
 * Fixes upstream's uploads: session ids were used raw in paths (traversal), chunked uploads had
 * no size cap and no completeness check, stale chunks were never removed, and responses carried
 * absolute server paths.
 */
final class Uploads
{
    public const DEFAULT_EXTENSIONS = ['csv', 'tsv', 'txt', 'json', 'xml', 'xlsx', 'xls', 'ods', 'zip'];
    private const TOKEN = '/^\d{8}-\d{6}-[a-f0-9]{16}\.[a-z0-9]{1,10}$/';
    private const SESSION = '/^[A-Za-z0-9_-]{8,64}$/';
    /**
     * The options a task gets for an uploaded file (upstream's names). Only this class sets them,
     * from a file it stored: a client's values for them are always dropped (see taskOptions()).
     */
    public const TASK_KEYS = ['uploaded_file', 'original_filename', 'file_size', 'uploaded_at'];
    /** Where the display name of each stored file is kept: {dir}/.meta/{token}.json. */
    private const META_DIR = '.meta';
    /** Chunks of an upload that stopped arriving are removed after this long. */
    private const STALE_CHUNKS_SECONDS = 3600;

    /**
     * @param list<string> $extensions the site-wide allow-list (config stask.uploads.extensions)
     */
    public function __construct(
        private string $dir,
        private array $extensions,
        private int $maxBytes,
        private int $chunkBytes,
    ) {
    }

    public function dir(): string
    {
        return $this->dir;
    }

    /**
     * What the manager page's script needs to upload (upstream's /server-limits names).
     *
     * @return array{maxFileSize: int, chunkSize: int, singleUploadLimit: int}
     */
    public function limits(): array
    {
        $single = min(self::iniBytes('upload_max_filesize'), self::iniBytes('post_max_size'));
        return [
            'maxFileSize' => $this->maxBytes,
            // A chunk must fit in one request, with room for the form fields.
            'chunkSize' => max(64 * 1024, min($this->chunkBytes, $single - 64 * 1024)),
            'singleUploadLimit' => min($single, $this->maxBytes),
        ];
    }

    /**
     * The extensions a worker asks for that the site-wide list allows.
     *
     * @param list<string> $wanted
     * @return list<string>
     */
    public function allowed(array $wanted): array
    {
        $wanted = array_map(static fn ($e) => strtolower(ltrim(trim((string) $e), '.')), $wanted);
        return array_values(array_intersect($this->extensions, $wanted));
    }

    /**
     * Stores a whole file.
     *
     * @param list<string> $extensions
     * @return array{token: string, original_filename: string, file_size: int}
     */
    public function store(UploadedFile $file, array $extensions): array
    {
        $original = $this->originalName($file->getClientOriginalName());
        $extension = $this->extension($original, $extensions);
        $this->checkUploaded($file);
        $size = (int) $file->getSize();
        if ($size > $this->maxBytes) {
            throw UploadException::tooLarge($this->maxBytes);
        }
        $token = $this->newToken($extension);
        $this->ensureDir($this->dir);
        $this->move($file, $this->dir, $token);
        return $this->remember(['token' => $token, 'original_filename' => $original, 'file_size' => $size]);
    }

    /**
     * Stores one chunk of a file sent in `$total` pieces; the last missing piece assembles it.
     *
     * @param list<string> $extensions
     * @return array{complete: bool, received: int, total: int, token?: string, original_filename?: string, file_size?: int}
     */
    public function storeChunk(string $session, int $index, int $total, string $originalName, UploadedFile $chunk, array $extensions): array
    {
        if (preg_match(self::SESSION, $session) !== 1) {
            throw new UploadException('session_id must be 8 to 64 letters, digits, "-" or "_".');
        }
        $original = $this->originalName($originalName);
        $extension = $this->extension($original, $extensions);
        $maxChunks = intdiv($this->maxBytes, 64 * 1024) + 1;
        if ($total < 1 || $total > $maxChunks || $index < 0 || $index >= $total) {
            throw new UploadException("chunk_index must be 0 to total_chunks - 1, and total_chunks 1 to $maxChunks.");
        }
        $this->checkUploaded($chunk);
        $this->removeStaleChunks();
        $parts = $this->dir . '/.chunks/' . $session;
        $this->ensureDir($parts);
        // Chunks may arrive in parallel: one request at a time checks, stores, and may see the
        // set complete.
        $lock = @fopen("$parts/.lock", 'c');
        if ($lock === false || !flock($lock, LOCK_EX)) {
            throw new UploadException('The upload could not be locked.', 500);
        }
        try {
            // The first chunk fixes the count; a later chunk that names another is refused (a
            // lower count on the last chunk would leave the chunks above it out of the file).
            $fixed = is_file("$parts/.total") ? (int) file_get_contents("$parts/.total") : null;
            if ($fixed !== null && $fixed !== $total) {
                throw new UploadException("total_chunks must stay $fixed for this upload (session_id).");
            }
            $received = 0;
            foreach (glob($parts . '/*.part') ?: [] as $part) {
                $received += basename($part) === "$index.part" ? 0 : (int) filesize($part);
            }
            if ($received + (int) $chunk->getSize() > $this->maxBytes) {
                $this->removeDir($parts);
                throw UploadException::tooLarge($this->maxBytes);
            }
            if ($fixed === null && @file_put_contents("$parts/.total", (string) $total) === false) {
                throw new UploadException('The upload could not be saved.', 500);
            }
            $this->move($chunk, $parts, "$index.part");
            $have = count(glob($parts . '/*.part') ?: []);
            if ($have < $total || !is_dir($parts)) {
                return ['complete' => false, 'received' => $have, 'total' => $total];
            }
            return ['complete' => true, 'received' => $have, 'total' => $total] + $this->assemble($parts, $total, $original, $extension);
        } finally {
            flock($lock, LOCK_UN);
            fclose($lock);
        }
    }

    /** The absolute path of an uploaded file, or null when the token names none. */
    public function path(string $token): ?string
    {
        if (preg_match(self::TOKEN, $token) !== 1) {
            return null;
        }
        $path = $this->dir . '/' . $token;
        return is_file($path) ? $path : null;
    }

    /**
     * What a task gets for a file stored here: `uploaded_file` (its path), `original_filename`
     * (the name it had on the manager's computer, as given at upload), `file_size` and
     * `uploaded_at`; null when the token names no stored file.
     *
     * @return array{uploaded_file: string, original_filename: string, file_size: int, uploaded_at: string}|null
     */
    public function describe(string $token): ?array
    {
        $path = $this->path($token);
        if ($path === null) {
            return null;
        }
        $meta = is_file($this->metaPath($token)) ? json_decode((string) @file_get_contents($this->metaPath($token)), true) : null;
        $original = is_array($meta) && is_string($meta['original_filename'] ?? null) && $meta['original_filename'] !== ''
            ? $meta['original_filename'] : $token;
        return [
            'uploaded_file' => $path,
            'original_filename' => $original,
            'file_size' => (int) filesize($path),
            'uploaded_at' => date('Y-m-d H:i:s', (int) filemtime($path)),
        ];
    }

    /**
     * A client's options for a new task, made safe: the TASK_KEYS it sent are dropped, and set
     * again only for a file stored here — named by `$token`, or by a `filename` option that is
     * a token of a stored file (upstream's widgets pass the upload's name that way). Any other
     * `filename` stays a plain string: it is never turned into a path here.
     *
     * @param array<array-key, mixed> $options
     * @return array<array-key, mixed>
     * @throws UploadException when `$token` is given but names no stored file
     */
    public function taskOptions(array $options, string $token = ''): array
    {
        foreach (self::TASK_KEYS as $key) {
            unset($options[$key]);
        }
        if ($token === '' && is_string($options['filename'] ?? null) && $this->path($options['filename']) !== null) {
            $token = $options['filename'];
        }
        if ($token === '') {
            return $options;
        }
        $file = $this->describe($token);
        if ($file === null) {
            throw new UploadException((string) __('sTask::global.upload_missing'));
        }
        return $file + $options;
    }

    /** Deletes uploads older than $days and chunks of abandoned uploads; returns files deleted. */
    public function prune(int $days): int
    {
        $deleted = $this->removeStaleChunks();
        $before = time() - max(0, $days) * 86400;
        foreach (glob($this->dir . '/*') ?: [] as $file) {
            if (is_file($file) && preg_match(self::TOKEN, basename($file)) === 1 && (int) filemtime($file) < $before && @unlink($file)) {
                @unlink($this->metaPath(basename($file)));
                $deleted++;
            }
        }
        return $deleted;
    }

    /** @return array{token: string, original_filename: string, file_size: int} */
    private function assemble(string $parts, int $total, string $original, string $extension): array
    {
        $token = $this->newToken($extension);
        $target = $this->dir . '/' . $token;
        $out = @fopen($target, 'xb');
        if ($out === false) {
            throw new UploadException('The file could not be saved.', 500);
        }
        try {
            for ($i = 0; $i < $total; $i++) {
                $in = @fopen("$parts/$i.part", 'rb');
                if ($in === false) {
                    throw new UploadException("Chunk $i is missing.");
                }
                stream_copy_to_stream($in, $out);
                fclose($in);
            }
        } catch (UploadException $e) {
            fclose($out);
            @unlink($target);
            throw $e;
        }
        fclose($out);
        @chmod($target, 0640);
        $this->removeDir($parts);
        return $this->remember(['token' => $token, 'original_filename' => $original, 'file_size' => (int) filesize($target)]);
    }

    /**
     * Keeps the display name of a stored file beside it, for describe().
     *
     * @param array{token: string, original_filename: string, file_size: int} $stored
     * @return array{token: string, original_filename: string, file_size: int}
     */
    private function remember(array $stored): array
    {
        $this->ensureDir($this->dir . '/' . self::META_DIR);
        $json = json_encode(['original_filename' => $stored['original_filename']], JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES | JSON_INVALID_UTF8_SUBSTITUTE);
        if (@file_put_contents($this->metaPath($stored['token']), (string) $json, LOCK_EX) === false) {
            throw new UploadException('The file could not be saved.', 500);
        }
        return $stored;
    }

    private function metaPath(string $token): string
    {
        return $this->dir . '/' . self::META_DIR . '/' . $token . '.json';
    }

    private function move(UploadedFile $file, string $dir, string $name): void
    {
        try {
            $file->move($dir, $name);
        } catch (\Symfony\Component\HttpFoundation\File\Exception\FileException) {
            throw new UploadException('The file could not be saved.', 500);
        }
        @chmod("$dir/$name", 0640);
    }

    private function removeStaleChunks(): int
    {
        $removed = 0;
        foreach (glob($this->dir . '/.chunks/*', GLOB_ONLYDIR) ?: [] as $dir) {
            if ((int) filemtime($dir) < time() - self::STALE_CHUNKS_SECONDS) {
                $this->removeDir($dir);
                $removed++;
            }
        }
        return $removed;
    }

    private function removeDir(string $dir): void
    {
        foreach (array_diff(scandir($dir) ?: [], ['.', '..']) as $file) {
            @unlink("$dir/$file");
        }
        @rmdir($dir);
    }

    /** A display name only: never used in a path. */
    private function originalName(string $name): string
    {
        $name = basename(str_replace('\\', '/', $name));
        $name = (string) preg_replace('/[\x00-\x1F\x7F]/u', '', $name);
        if ($name === '' || mb_strlen($name) > 255) {
            throw new UploadException('The file needs a name of 1 to 255 characters.');
        }
        return $name;
    }

    /** @param list<string> $extensions */
    private function extension(string $name, array $extensions): string
    {
        $extension = strtolower((string) pathinfo($name, PATHINFO_EXTENSION));
        if ($extension === '' || !in_array($extension, $extensions, true)) {
            throw new UploadException($extensions === []
                ? 'This worker accepts no files.'
                : 'Only these file types are accepted: ' . implode(', ', $extensions) . '.');
        }
        return $extension;
    }

    private function checkUploaded(UploadedFile $file): void
    {
        if (!$file->isValid()) {
            throw new UploadException('The upload failed: ' . $file->getErrorMessage());
        }
    }

    private function newToken(string $extension): string
    {
        return date('Ymd-His') . '-' . bin2hex(random_bytes(8)) . '.' . $extension;
    }

    private function ensureDir(string $dir): void
    {
        if (!is_dir($dir) && !@mkdir($dir, 0775, true) && !is_dir($dir)) {
            throw new UploadException('The upload directory cannot be created.', 500);
        }
    }

    private static function iniBytes(string $key): int
    {
        $value = trim((string) ini_get($key));
        if ($value === '' || $value === '0' || $value === '-1') {
            return PHP_INT_MAX;
        }
        $number = (int) $value;
        return match (strtolower(substr($value, -1))) {
            'g' => $number * 1024 ** 3,
            'm' => $number * 1024 ** 2,
            'k' => $number * 1024,
            default => $number,
        };
    }
}
