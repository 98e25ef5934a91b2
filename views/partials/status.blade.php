<span class="st-badge st-status-{{ $status }}" data-status-badge>{{ __('sTask::global.' . $status) }}</span>
