<?php

declare(strict_types=1);

namespace Seiger\sTask\Http;

/**
 * A request parameter the endpoint cannot take; its message says which one and what it must be.
 * The controllers answer it with a 422 (JSON, or an HTML page for the pages) before anything is
 * written.
 */
final class InvalidInput extends \InvalidArgumentException
{
}
