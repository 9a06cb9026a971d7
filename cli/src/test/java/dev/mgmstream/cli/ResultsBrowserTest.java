package dev.mgmstream.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.mgmstream.ingest.BulkRun;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;

/**
 * The results browser in headless Chromium during an embedded run of the demo's tasks and one broken image:
 * the page opens on an empty gallery, fills with every task as the pipeline answers, shows the input and
 * generated images, lists the rejection with its reason, filters by status and kind, and draws both charts.
 * Screenshots go to {@code target/results-browser/}. Skips where Debian's chromium and chromium-driver are
 * not installed (cli/setup-browser.sh installs them where the build may).
 */
class ResultsBrowserTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Path SHOTS = Path.of("target", "results-browser");

    @TempDir
    Path dir;

    @Test
    void theGalleryFillsWithTheRunsTasksAsTheyAreAnswered() throws Exception {
        Optional<Path> chromium = executable("chromium", "chromium-browser", "google-chrome");
        Optional<Path> driverBinary = executable("chromedriver");
        assumeTrue(chromium.isPresent() && driverBinary.isPresent(),
                "no chromium and chromedriver on this machine (apt-get install chromium chromium-driver)");

        Map<String, JsonNode> tasks = writeTasks();
        Map<String, String> config = new HashMap<>();
        config.put("lake.warehouse", dir.resolve("lake").toString());
        config.put("generation.images.dir", dir.resolve("generated-images").toString());
        config.put("views.http.port", "0");
        if (!ConfigOptions.generatorPresent(config)) {
            config.put("reasoning.generate.output", "answer");
        }
        Path work = Files.createDirectories(dir.resolve("work"));
        Path input = dir.resolve("tasks.jsonl");
        Files.createDirectories(SHOTS);

        try (EmbeddedPipeline pipeline = EmbeddedPipeline.start(Keys.withBundledModel(config), work,
                ImageFolders.of(input), new SimpleMeterRegistry())) {
            WebDriver browser = openBrowser(chromium.get(), driverBinary.get());
            try {
                browser.get(pipeline.viewsUrl());
                assertThat(browser.getTitle()).contains("Mini-Gemini Stream");
                // nothing published yet: an empty gallery that says why
                assertThat(browser.findElements(By.cssSelector("#gallery .card"))).isEmpty();
                assertThat(browser.findElement(By.id("empty")).isDisplayed()).isTrue();

                RunCommand run = new RunCommand();
                run.input = input;
                run.output = dir.resolve("results.jsonl");
                run.timeout = Duration.ofMinutes(4);
                CompletableFuture<BulkRun.Summary> running = CompletableFuture.supplyAsync(() -> {
                    try {
                        return run.bulk(pipeline.config(), System.err);
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                });

                List<Integer> seen = new ArrayList<>();
                await().atMost(Duration.ofMinutes(4)).pollInterval(Duration.ofMillis(250)).until(() -> {
                    int done = browser.findElements(By.cssSelector("#gallery .card[data-state='answered'], "
                            + "#gallery .card[data-state='rejected'], #gallery .card[data-state='failed']")).size();
                    if (seen.isEmpty() || seen.get(seen.size() - 1) != done) {
                        seen.add(done);
                    }
                    if (seen.size() == 2) {
                        screenshot(browser, "filling.png"); // the first tasks in, the rest on their way
                    }
                    return done == tasks.size();
                });
                BulkRun.Summary summary = running.get(1, TimeUnit.MINUTES);
                assertThat(summary.results()).isEqualTo(tasks.size());
                // it filled as the run went, not all at once at the end
                assertThat(seen).as("finished cards seen over time").hasSizeGreaterThan(2).first().isEqualTo(0);
                Map<String, JsonNode> results = readResults(run.output);

                // every card shows its task as the results file has it
                assertThat(browser.findElements(By.cssSelector("#gallery .card"))).hasSize(tasks.size());
                assertThat(browser.findElement(By.id("count-total")).getText()).isEqualTo(String.valueOf(tasks.size()));
                for (JsonNode r : results.values()) {
                    WebElement card = card(browser, r.get("task_id").asText());
                    assertThat(card.getAttribute("data-kind")).isEqualTo(r.get("kind").asText());
                    if (r.get("status").asText().equals("ok") && r.get("kind").asText().equals("vqa")) {
                        assertThat(card.findElement(By.cssSelector(".answer")).getText()).isEqualTo(r.get("answer").asText());
                    }
                }

                // the input images load, through the views, for tasks with a file under the task file's folder
                String scene = "demo-002";
                await().atMost(Duration.ofSeconds(20)).until(() -> loaded(browser, scene, "img.input"));
                if (results.values().stream().anyMatch(r -> r.hasNonNull("generated_image"))) {
                    String generated = results.values().stream().filter(r -> r.hasNonNull("generated_image"))
                            .findFirst().orElseThrow().get("task_id").asText();
                    await().atMost(Duration.ofSeconds(20)).until(() -> loaded(browser, generated, "img.generated"));
                }

                // the broken image: rejected, listed with its reason
                JsonNode broken = results.get("broken-empty");
                assertThat(broken.get("status").asText()).isEqualTo("rejected");
                WebElement row = browser.findElement(By.cssSelector("#problem-rows tr[data-task='broken-empty']"));
                assertThat(row.findElement(By.cssSelector(".reason")).getText()).isNotBlank();
                assertThat(browser.findElement(By.id("problems")).isDisplayed()).isTrue();

                // both charts drew
                assertThat(browser.findElements(By.cssSelector("#chart-throughput canvas"))).hasSize(1);
                assertThat(browser.findElements(By.cssSelector("#chart-latency canvas"))).hasSize(1);
                ((JavascriptExecutor) browser).executeScript("window.scrollTo(0, 0)");
                screenshot(browser, "gallery.png");

                browser.findElement(By.cssSelector("#filter-status button[data-status='rejected']")).click();
                assertThat(visibleCards(browser)).extracting(c -> c.getAttribute("data-task")).containsExactly("broken-empty");
                browser.findElement(By.cssSelector("#filter-status button[data-status='all']")).click();
                browser.findElement(By.cssSelector("#filter-kind button[data-kind='generate']")).click();
                long generates = tasks.values().stream().filter(t -> t.get("kind").asText().equals("generate")).count();
                assertThat(visibleCards(browser)).hasSize((int) generates)
                        .allSatisfy(c -> assertThat(c.getAttribute("data-kind")).isEqualTo("generate"));
                screenshot(browser, "generate-only.png");
            } finally {
                browser.quit();
            }
        }
    }

    /** The demo's tasks with absolute image paths, and a task whose image is an empty file. */
    private Map<String, JsonNode> writeTasks() throws IOException {
        Path samples = Home.samples();
        Map<String, JsonNode> tasks = new LinkedHashMap<>();
        for (String line : Files.readAllLines(samples.resolve("demo.jsonl"))) {
            if (line.isBlank()) {
                continue;
            }
            ObjectNode t = (ObjectNode) JSON.readTree(line);
            t.put("image", samples.resolve(t.get("image").asText()).toString());
            tasks.put(t.get("task_id").asText(), t);
        }
        Files.write(Files.createDirectories(dir.resolve("broken")).resolve("empty.png"), new byte[0]);
        ObjectNode broken = JSON.createObjectNode();
        broken.put("task_id", "broken-empty").put("image", "broken/empty.png").put("kind", "vqa")
                .put("prompt", "What shape is at the center?");
        tasks.put("broken-empty", broken);
        List<String> lines = new ArrayList<>();
        for (JsonNode t : tasks.values()) {
            lines.add(JSON.writeValueAsString(t));
        }
        Files.write(dir.resolve("tasks.jsonl"), lines);
        return tasks;
    }

    private static Map<String, JsonNode> readResults(Path output) throws IOException {
        Map<String, JsonNode> results = new LinkedHashMap<>();
        for (String line : Files.readAllLines(output)) {
            JsonNode n = JSON.readTree(line);
            results.put(n.get("task_id").asText(), n);
        }
        return results;
    }

    private static WebDriver openBrowser(Path chromium, Path driver) {
        ChromeOptions options = new ChromeOptions();
        options.setBinary(chromium.toFile());
        // --no-sandbox: CI runs the build as root, where Chromium's sandbox will not start
        options.addArguments("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1400,1100", "--hide-scrollbars");
        ChromeDriverService service = new ChromeDriverService.Builder().usingDriverExecutable(driver.toFile())
                .usingAnyFreePort().build();
        return new ChromeDriver(service, options);
    }

    private static WebElement card(WebDriver browser, String taskId) {
        return browser.findElement(By.cssSelector("#gallery .card[data-task='" + taskId + "']"));
    }

    private static List<WebElement> visibleCards(WebDriver browser) {
        return browser.findElements(By.cssSelector("#gallery .card:not(.hidden)"));
    }

    /** Whether the card's image has arrived and decoded (brought into view first: the page loads images lazily). */
    private static boolean loaded(WebDriver browser, String taskId, String img) {
        WebElement card = card(browser, taskId);
        ((JavascriptExecutor) browser).executeScript("arguments[0].scrollIntoView()", card);
        List<WebElement> found = card.findElements(By.cssSelector(img));
        return !found.isEmpty() && Boolean.TRUE.equals(((JavascriptExecutor) browser).executeScript(
                "return arguments[0].complete && arguments[0].naturalWidth > 0", found.get(0)));
    }

    private static void screenshot(WebDriver browser, String name) throws IOException {
        File shot = ((ChromeDriver) browser).getScreenshotAs(OutputType.FILE);
        Files.copy(shot.toPath(), SHOTS.resolve(name), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    }

    /** The first of {@code names} on the PATH (or in /usr/bin), as Debian installs them. */
    private static Optional<Path> executable(String... names) {
        List<Path> dirs = new ArrayList<>();
        for (String d : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            if (!d.isBlank()) {
                dirs.add(Path.of(d));
            }
        }
        dirs.add(Path.of("/usr/bin"));
        return Stream.of(names).flatMap(n -> dirs.stream().map(d -> d.resolve(n)))
                .filter(Files::isExecutable).findFirst();
    }
}
