package dev.mgmstream.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code mgm} command. {@code ./mgm} at the repository root builds the project when needed and runs this. */
@Command(name = "mgm", mixinStandardHelpOptions = true, version = "mgm 0.1.0",
        description = {
                "Mini-Gemini Stream: a vision-language model (Mini-Gemini) served by Kafka stages.",
                "Images and questions go in as tasks; answers come out as JSON lines and rows of an Iceberg table.",
                ""},
        subcommands = {DemoCommand.class, RunCommand.class, KafkaCommand.class, StageCommand.class, TopicsCommand.class,
                PublishCommand.class, ResultsCommand.class, CommandLine.HelpCommand.class},
        footer = {"", "Start with:  ./mgm demo", "Each command explains itself: ./mgm help run"})
public final class Mgm implements Runnable {

    /** Exit code of a command line that does not parse (sysexits' EX_USAGE), apart from the commands' own codes. */
    static final int USAGE = 64;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(execute(args));
    }

    /** Runs a command line and returns its exit code (tests call this in-process). */
    public static int execute(String... args) {
        CommandLine mgm = new CommandLine(new Mgm());
        StageCommand.listViewsKeys(mgm.getSubcommands().get("stage"));
        return mgm
                .setCaseInsensitiveEnumValuesAllowed(true)
                .setUsageHelpWidth(110)
                .setParameterExceptionHandler((e, given) -> {
                    CommandLine cmd = e.getCommandLine();
                    cmd.getErr().println("mgm: " + e.getMessage());
                    cmd.usage(cmd.getErr());
                    return USAGE;
                })
                .setExecutionExceptionHandler((e, cmd, parsed) -> {
                    cmd.getErr().println("mgm " + cmd.getCommandName() + ": " + describe(e));
                    if (System.getenv("MGM_DEBUG") != null) {
                        e.printStackTrace(cmd.getErr());
                    }
                    return 3;
                })
                .execute(args);
    }

    private static String describe(Throwable e) {
        StringBuilder s = new StringBuilder(String.valueOf(e.getMessage()));
        for (Throwable c = e.getCause(); c != null && c != c.getCause(); c = c.getCause()) {
            if (c.getMessage() != null && !s.toString().contains(c.getMessage())) {
                s.append(": ").append(c.getMessage());
            }
        }
        return s.toString();
    }

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }
}
