package dev.mgmstream.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The packaged {@code mgm} (target/mgm-&lt;version&gt;.tar.gz, built at package): unpacked elsewhere, started
 * through a symbolic link from a PATH that has no Maven, it prints its help and runs the whole demo on its
 * own models and samples. Run by maven-failsafe-plugin in {@code mvn verify}, after package.
 */
class DistributionIT {

    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    @Test
    void theUnpackedTarballRunsHelpAndTheDemoWithoutMaven() throws Exception {
        Path dist = Path.of(required("mgm.dist"));
        Path tarball = Path.of(required("mgm.dist.tarball"));
        assertThat(tarball).as("the tarball (mvn package builds it)").isRegularFile();

        // Unpack it as a user would: the tarball must carry everything, the launcher's mode included.
        run(tmp, List.of("tar", "-xzf", tarball.toString(), "-C", tmp.toString()), Map.of(), 60);
        Path unpacked = tmp.resolve(dist.getFileName());
        assertThat(files(unpacked)).as("the tarball holds the distribution folder").isEqualTo(files(dist));
        Path launcher = unpacked.resolve("bin/mgm");
        assertThat(Files.getPosixFilePermissions(launcher)).contains(PosixFilePermission.OWNER_EXECUTE);
        assertThat(unpacked.resolve("lib/mgm.jar")).isRegularFile();
        assertThat(unpacked.resolve("models/mgm-tiny/model.json")).isRegularFile();
        assertThat(unpacked.resolve("models/mgm-gen-tiny/model.json")).isRegularFile();
        assertThat(unpacked.resolve("samples/demo.jsonl")).isRegularFile();
        assertThat(unpacked.resolve("models/mgm-tiny/pytorch")).as("no PyTorch checkpoints").doesNotExist();

        // A PATH with every tool of this one but Maven, and mgm linked into it (the launcher must find
        // its lib/ and models/ through the link).
        Path tools = Files.createDirectories(tmp.resolve("tools"));
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(File.pathSeparator)) {
            Path d = Path.of(dir.isEmpty() ? "." : dir);
            if (!Files.isDirectory(d)) {
                continue;
            }
            try (Stream<Path> entries = Files.list(d)) {
                for (Path tool : entries.toList()) {
                    String name = tool.getFileName().toString();
                    if (!name.startsWith("mvn") && !Files.exists(tools.resolve(name), LinkOption.NOFOLLOW_LINKS)) {
                        Files.createSymbolicLink(tools.resolve(name), tool.toAbsolutePath());
                    }
                }
            }
        }
        Files.deleteIfExists(tools.resolve("mgm"));
        Files.createSymbolicLink(tools.resolve("mgm"), launcher);
        Map<String, String> env = Map.of("PATH", tools.toString(), "JAVA_HOME", System.getProperty("java.home"),
                "HOME", tmp.toString(), "MGM_LOG_LEVEL", "WARN",
                // the JVM prints its flags and properties at start: what the launcher passed it
                "MGM_JAVA_OPTS", "-Xmx1g -XX:+PrintCommandLineFlags -XshowSettings:properties");
        Path work = Files.createDirectories(tmp.resolve("work"));

        Result help = run(work, List.of("mgm", "--help"), env, 60);
        assertThat(help.exit).as(help.output).isZero();
        assertThat(help.output).contains("Usage: mgm", "demo", "stage").contains("-XX:MaxHeapSize=1073741824")
                .as("the quick compiler only for run and demo").doesNotContain("TieredStopAtLevel");
        assertThat(help.output).as("mgm.home is the unpacked folder, found through the link")
                .contains("mgm.home = " + unpacked.toRealPath()).contains("ai.djl.offline = true");

        Result demo = run(work, List.of("mgm", "demo"), env, 240);
        assertThat(demo.exit).as(demo.output).isZero();
        assertThat(demo.output).contains("-XX:TieredStopAtLevel=1", "with the bundled model " + unpacked.toRealPath()
                .resolve("models/mgm-tiny"));
        long tasks;
        try (Stream<String> lines = Files.lines(unpacked.resolve("samples/demo.jsonl"))) {
            tasks = lines.filter(l -> !l.isBlank()).count();
        }
        assertThat(demo.output).contains(tasks + " tasks answered", "{ok=" + tasks + "}");
        Matcher synthetic = Pattern.compile("Synthetic scenes: (\\d+) of (\\d+) answers").matcher(demo.output);
        assertThat(synthetic.find()).as(demo.output).isTrue();
        assertThat(Double.parseDouble(synthetic.group(1)) / Double.parseDouble(synthetic.group(2)))
                .as("the bundled model's answers match the answer key").isGreaterThanOrEqualTo(0.9);

        List<String> results = Files.readAllLines(work.resolve("results.jsonl"));
        assertThat(results).hasSize((int) tasks);
        for (String line : results) {
            JsonNode r = JSON.readTree(line);
            assertThat(r.path("status").asText()).as(line).isEqualTo("ok");
            assertThat(r.path("answer").asText()).as(line).isNotBlank();
        }
        try (Stream<Path> images = Files.list(work.resolve("generated-images"))) {
            assertThat(images.filter(p -> p.toString().endsWith(".png")).count())
                    .as("the bundled generator drew the generation tasks").isPositive();
        }
        assertThat(work.resolve("lake/mgm/answers/metadata")).as("the lake table").isDirectory();
    }

    private static String required(String property) {
        String value = System.getProperty(property);
        assertThat(value).as(property + ", set by maven-failsafe-plugin (cli/pom.xml): run this test with"
                + " mvn verify -Dit.test=DistributionIT, not with surefire's -Dtest").isNotBlank();
        return value;
    }

    private static List<String> files(Path root) throws IOException {
        try (Stream<Path> all = Files.walk(root)) {
            return all.filter(Files::isRegularFile).map(p -> root.relativize(p).toString()).sorted().toList();
        }
    }

    private record Result(int exit, String output) {
    }

    private Result run(Path dir, List<String> command, Map<String, String> env, int timeoutSeconds)
            throws IOException, InterruptedException {
        Path log = Files.createTempFile(tmp, "out-", ".log");
        ProcessBuilder pb = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true)
                .redirectOutput(log.toFile());
        if (!env.isEmpty()) {
            pb.environment().clear();
            pb.environment().putAll(env);
            // ProcessBuilder looks the program up in this JVM's PATH: name the one in the test's PATH
            if (!command.get(0).contains("/")) {
                command = new ArrayList<>(command);
                command.set(0, Path.of(env.get("PATH"), command.get(0)).toString());
                pb.command(command);
            }
        }
        Process p = pb.start();
        if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
            p.destroyForcibly().waitFor();
            throw new AssertionError(String.join(" ", command) + " ran past " + timeoutSeconds + " s:\n"
                    + Files.readString(log));
        }
        return new Result(p.exitValue(), Files.readString(log));
    }
}
