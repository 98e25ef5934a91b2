<?php

declare(strict_types=1);

namespace App\Workers;

use Seiger\sTask\Models\sTaskModel;
use Seiger\sTask\Workers\BaseWorker;

/** Sends a newsletter to a list of subscribers (into an outbox file, for the demo). */
final class NewsletterWorker extends BaseWorker
{
    public function identifier(): string { return 'newsletter'; }
    public function scope(): string { return 'mail'; }
    public function title(): string { return 'Newsletter'; }
    public function description(): string { return 'Sends a campaign to its subscribers in batches.'; }

    public function taskSend(sTaskModel $task, array $options = []): void
    {
        $recipients = (array) ($options['recipients'] ?? []);
        $pause = (int) ($options['pause_ms'] ?? 3);
        $outbox = storage_path('demo-outbox.txt');
        foreach ($recipients as $i => $to) {
            usleep($pause * 1000); // an SMTP round trip
            file_put_contents($outbox, "To: $to\r\nSubject: " . ($options['subject'] ?? 'News') . "\r\n\r\n", FILE_APPEND);
            // Also where a cancel from the manager stops the campaign.
            $this->pushProgress($task, ['processed' => $i + 1, 'total' => count($recipients), 'message' => "Sent to $to"]);
        }
        $this->markFinishedWith($task, ['sent' => count($recipients)], 'Sent ' . count($recipients) . ' mails');
    }
}
