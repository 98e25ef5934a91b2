<?php

declare(strict_types=1);

namespace Seiger\sTask\Exceptions;

/** An upload that was refused; the code is the HTTP status to answer with. */
final class UploadException extends \RuntimeException
{
    public function __construct(string $message, int $status = 422)
    {
        parent::__construct($message, $status);
    }

    public static function tooLarge(int $maxBytes): self
    {
        return new self(sprintf('The file is larger than the %s allowed.', self::size($maxBytes)), 413);
    }

    private static function size(int $bytes): string
    {
        return $bytes >= 1024 ** 2 ? round($bytes / 1024 ** 2, 1) . ' MB' : round($bytes / 1024) . ' KB';
    }
}
