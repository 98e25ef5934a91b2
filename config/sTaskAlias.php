<?php

// Published to core/custom/config/app/aliases/sTask.php for cores that predate alias discovery.
return Seiger\sTask\Facades\sTask::class;
