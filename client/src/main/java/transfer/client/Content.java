package transfer.client;

import java.nio.file.Path;

/** Bytes the client stored in a file: where, how many, and their SHA-256 (lower-case hex). */
public record Content(Path path, long size, String sha256) {}
