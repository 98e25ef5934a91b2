<?php

declare(strict_types=1);

namespace Seiger\sTask\Models;

use Carbon\Carbon;
use DateTimeInterface;

/**
 * The engine writes timestamps as UTC text with milliseconds. Read them as UTC and hand them
 * out in the application's timezone; write them back the same way. (Upstream stored local time
 * and mixed it with UTC from PHP's date(); that drift is gone here.)
 */
trait UtcTimestamps
{
    public function getDateFormat()
    {
        return 'Y-m-d H:i:s.v';
    }

    protected function asDateTime($value)
    {
        if ($value instanceof DateTimeInterface) {
            return Carbon::instance($value);
        }
        if (is_numeric($value)) {
            // The app's zone on every Carbon: 2 defaults to it, 3 to UTC.
            return Carbon::createFromTimestamp((int) $value, date_default_timezone_get());
        }
        return Carbon::parse((string) $value, 'UTC')->setTimezone(date_default_timezone_get());
    }

    public function fromDateTime($value)
    {
        return empty($value) ? $value : $this->asDateTime($value)->copy()->setTimezone('UTC')->format($this->getDateFormat());
    }
}
