package transfer.contracts;

import java.time.Instant;

/**
 * A session as the API answers it. {@code state}: {@code active}; {@code finishing} after {@code
 * DELETE ?finishTasks=true} (no new tasks, running ones finish); {@code invalidated} after {@code
 * DELETE} (every open task canceled). A {@code PUT} makes it active again. The {@code config}'s
 * header values are answered as {@value Redaction#MASK}: they are write-only ({@link Redaction}).
 * {@code lastEventSequence} is the {@code sequence} of the session's newest numbered event (0
 * before the first): a client that reads it, then submits, then listens after it (replay {@code
 * ?after=}, the SSE stream, or the topic) sees every event of its new tasks and none of the
 * history.
 */
public record SessionView(
    String id,
    String state,
    SessionConfig config,
    Instant createdAt,
    Instant updatedAt,
    long lastEventSequence) {}
