// Sends one of each kind of data @sentry/node sends, through its own transport: an error with
// an attachment, a transaction with a span, a session, a cron check-in, logs and feedback.
//
// usage: node node_everything.mjs DSN SENT_DIR
// Writes every envelope the SDK's transport sent to SENT_DIR (one file each, as serialized),
// and prints JSON: the error's event id, the attachment's name and bytes (hex).
import { randomUUID } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

import * as Sentry from "@sentry/node";
import { serializeEnvelope } from "@sentry/core";

const [dsn, sentDir] = process.argv.slice(2);

// The SDK's own HTTP transport; each envelope is also written to SENT_DIR as sent.
function recordingTransport(options) {
  const transport = Sentry.makeNodeTransport(options);
  return {
    ...transport,
    send(envelope) {
      writeFileSync(join(sentDir, `${randomUUID()}.envelope`), serializeEnvelope(envelope));
      return transport.send(envelope);
    },
  };
}

Sentry.init({
  dsn,
  release: "everything@1.0.0",
  environment: "test",
  tracesSampleRate: 1.0,
  enableLogs: true,
  transport: recordingTransport,
});

const attachment = Buffer.from("attached bytes \u0000\u0001\u0002 from node", "latin1");
Sentry.startSession();
let errorId;
Sentry.startSpan({ name: "everything", op: "task" }, () => {
  Sentry.startSpan({ name: "one span", op: "work" }, () => {
    Sentry.logger.info("a log line from node");
    Sentry.logger.warn(Sentry.logger.fmt`another log line, ${"formatted"}`);
  });
  Sentry.withScope((scope) => {
    scope.addAttachment({ data: attachment, filename: "node.bin", contentType: "application/octet-stream" });
    errorId = Sentry.captureException(new TypeError("node could not divide"));
  });
});
Sentry.captureCheckIn({ monitorSlug: "nightly", status: "ok", duration: 1.5 });
Sentry.endSession();
Sentry.captureFeedback({
  message: "node could not divide",
  name: "Node",
  email: "node@example.com",
  associatedEventId: errorId,
});
await Sentry.flush(20000);
await Sentry.close(20000);
console.log(JSON.stringify({ error: errorId.replaceAll("-", ""), attachment: { name: "node.bin", hex: attachment.toString("hex") } }));
