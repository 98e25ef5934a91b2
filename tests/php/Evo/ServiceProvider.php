<?php

declare(strict_types=1);

namespace EvolutionCMS;

/*
 * Evolution CMS's base service provider (core/src/ServiceProvider.php), as much as packages
 * use of it. Defined only when the real one is absent. Tests only.
 */
if (!class_exists(ServiceProvider::class, false)) {
    abstract class ServiceProvider extends \Illuminate\Support\ServiceProvider
    {
        /** Includes every *.php in $path (which ends with a slash), like Evolution CMS does. */
        public function loadPluginsFrom($path)
        {
            foreach (glob($path . '*.php') ?: [] as $file) {
                include $file;
            }
        }

        public function loadSnippetsFrom($path, $namespace = '')
        {
        }

        public function loadChunksFrom($path, $namespace = '')
        {
        }
    }
}
