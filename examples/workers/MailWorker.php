<?php
declare(strict_types=1);

namespace Demo\Workers;

use STask\Engine;
use STask\Task;

/** Sends a newsletter to a batch of subscribers (to an outbox file, for the demo). */
final class MailWorker
{
    public function __construct(private Engine $engine, private string $outbox)
    {
    }

    public function send(Task $task): void
    {
        $recipients = $task->data['recipients'];
        $out = fopen($this->outbox, 'a');
        foreach ($recipients as $i => $to) {
            usleep(2500); // an SMTP round trip
            fwrite($out, "To: $to\r\nSubject: {$task->data['subject']}\r\n\r\nHello!\r\n\r\n");
            $this->engine->pushProgress($task->id, ['processed' => $i + 1, 'total' => count($recipients), 'message' => "Sent to $to"]);
        }
        fclose($out);
        $this->engine->complete($task->id, ['sent' => count($recipients)], 'Sent ' . count($recipients) . ' mails');
    }
}
