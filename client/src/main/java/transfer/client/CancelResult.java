package transfer.client;

import transfer.contracts.TaskView;

/**
 * A canceled task and, when asked for and the download had a durable prefix, the resumeData a new
 * download task may continue from ({@code TaskRequest} with {@code resumeData}); else null.
 */
public record CancelResult(TaskView task, String resumeData) {}
