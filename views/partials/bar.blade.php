<div class="flex items-center gap-2">
    <div class="st-bar min-w-[6rem]" role="progressbar" aria-valuemin="0" aria-valuemax="100" aria-valuenow="{{ (int) $progress }}"><span style="width: {{ (int) $progress }}%"></span></div>
    <span class="w-10 text-right text-xs tabular-nums" data-percent>{{ (int) $progress }}%</span>
</div>
