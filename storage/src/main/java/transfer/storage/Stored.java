package transfer.storage;

import java.nio.file.Path;
import java.util.List;

/**
 * A complete, verified body at its final place, as the ledger will record it: its {@code location}
 * ({@code file:} or {@code s3:}), and the directories to sync before that record is committed (none
 * on S3, where a completed object is durable when the request answers).
 */
public record Stored(String location, List<Path> directories) {}
