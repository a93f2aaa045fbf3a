# Regenerates wilcox.golden.json: reference figures for canary.RankSumTest
# from R's own wilcox.test, the implementation Kayenta's Mann-Whitney
# classifier follows.
#
#   apt-get install -y r-base-core
#   cd internal/canary/testdata/judge && Rscript gen.R > wilcox.golden.json
#
# Only base R is used (no jsonlite), so any R 4.x will do; the golden file
# records the version that produced it. Every case is two-sided with
# mu = 0, correct = TRUE, conf.int = TRUE and conf.level = 0.98 (the judge's
# level) unless it sets its own.

set.seed(20261206)

cases <- list()
add <- function(name, x, y, exact = NULL, conf.level = 0.98) {
  cases[[length(cases) + 1]] <<- list(name = name, x = x, y = y, exact = exact, conf.level = conf.level)
}

# Small samples without ties: R's default is the exact distribution.
add("exact-tiny-1x1", c(1.5), c(0.5))
add("exact-tiny-1x3", c(2.0), c(1.0, 3.5, 4.0))
add("exact-tiny-2x2", c(1.1, 2.2), c(3.3, 4.4))
add("exact-3x4", c(0.8, 1.9, 3.1), c(2.2, 2.9, 4.7, 5.3))
add("exact-5x5-shift", rnorm(5, 10, 1), rnorm(5, 12, 1))
add("exact-8x6", rnorm(8, 0, 1), rnorm(6, 0, 1))
add("exact-10x10-same", rnorm(10, 100, 5), rnorm(10, 100, 5))
add("exact-12x15-shift", rnorm(12, 50, 3), rnorm(15, 47, 3))
add("exact-20x20-latency", rlnorm(20, 4, 0.3), rlnorm(20, 4.2, 0.3))
add("exact-30x25", rexp(30, 1 / 20), rexp(25, 1 / 25))
add("exact-49x49", rnorm(49, 0, 1), rnorm(49, 0.3, 1))
add("exact-very-different", c(100.1, 101.3, 102.7, 99.9, 103.2), c(1.1, 2.3, 0.7, 1.9, 2.2))
add("exact-negative", -rexp(9, 1), -rexp(11, 2))
# The same small samples forced to the normal approximation (Kayenta's only mode).
add("normal-forced-3x4", c(0.8, 1.9, 3.1), c(2.2, 2.9, 4.7, 5.3), exact = FALSE)
add("normal-forced-5x5", c(10.2, 11.1, 9.7, 10.9, 10.4), c(12.3, 11.8, 12.9, 12.1, 11.6), exact = FALSE)
add("normal-forced-20x20", rlnorm(20, 4, 0.3), rlnorm(20, 4.2, 0.3), exact = FALSE)
add("normal-forced-very-different", c(100.1, 101.3, 102.7, 99.9, 103.2), c(1.1, 2.3, 0.7, 1.9, 2.2), exact = FALSE)
add("normal-forced-1x2", c(1.0), c(2.0, 3.0), exact = FALSE)
# Large samples: normal approximation by default.
add("normal-50x50", rnorm(50, 0, 1), rnorm(50, 0, 1))
add("normal-60x80-shift", rnorm(60, 200, 20), rnorm(80, 180, 20))
add("normal-100x100-latency", rlnorm(100, 5, 0.5), rlnorm(100, 5.1, 0.5))
add("normal-300x250", rgamma(300, 2, 0.1), rgamma(250, 2, 0.11))
add("normal-60x60-very-different", rnorm(60, 1000, 10), rnorm(60, 10, 1))
# Ties: the normal approximation with the ties correction, even for small n.
add("ties-small", c(1, 2, 2, 3, 3, 3), c(2, 3, 4, 4, 5))
add("ties-integers", rpois(30, 4), rpois(30, 6))
add("ties-counts-large", rpois(200, 10), rpois(150, 10))
add("ties-rounded", round(rnorm(40, 5, 1), 1), round(rnorm(45, 5.4, 1), 1))
add("ties-exact-requested", c(1, 2, 2, 3), c(2, 4, 5), exact = TRUE)
# Zeros and error-rate-like samples (mostly zero).
add("zeros-mostly", c(rep(0, 25), 1, 2, 1), c(rep(0, 20), 3, 2, 4, 1, 5))
add("zeros-vs-positive", rep(0, 8), c(0.1, 0.4, 0.2, 0.3))
add("zeros-error-rates", c(rep(0, 50), runif(10, 0, 0.02)), c(rep(0, 40), runif(20, 0, 0.05)))
# Equal samples.
add("equal-samples", c(3.1, 4.1, 5.9, 2.6, 5.3), c(3.1, 4.1, 5.9, 2.6, 5.3))
add("equal-samples-large", rep(c(1.5, 2.5, 3.5, 4.5), 15), rep(c(1.5, 2.5, 3.5, 4.5), 15))
# Tiny n.
add("tiny-1x1-normal", c(5), c(3), exact = FALSE)
add("tiny-2x1", c(4.0, 6.0), c(5.0))
add("tiny-2x2-tied", c(1, 2), c(2, 3))
# Another confidence level, to check the quantile path.
add("exact-8x6-conf95", rnorm(8, 0, 1), rnorm(6, 1, 1), conf.level = 0.95)
add("normal-70x70-conf90", rnorm(70), rnorm(70, 0.2), conf.level = 0.90)
# Found by FuzzClassifyMetric: the statistic jumps at a shift of 0, so both
# interval ends are only located to the root tolerance and R's own interval
# comes out inverted (lower > upper by less than 1e-4).
add("step-at-zero-inverted", rep(71 / 8, 397), c(1 / 8, 71 / 8, 71 / 8), exact = FALSE)

num <- function(v) {
  if (is.na(v)) return("null")
  if (is.infinite(v)) return(if (v > 0) "\"+Inf\"" else "\"-Inf\"")
  sprintf("%.17g", v)
}
vec <- function(v) paste0("[", paste(vapply(v, num, ""), collapse = ", "), "]")
exact_name <- function(e) if (is.null(e)) "auto" else if (e) "always" else "never"

out <- character()
for (c in cases) {
  r <- tryCatch(suppressWarnings(wilcox.test(c$x, c$y, exact = c$exact, correct = TRUE,
    conf.int = TRUE, conf.level = c$conf.level)), error = function(e) e)
  head <- paste0("    {\"name\": \"", c$name, "\", \"exact\": \"", exact_name(c$exact),
    "\", \"confLevel\": ", num(c$conf.level),
    ",\n     \"x\": ", vec(c$x), ",\n     \"y\": ", vec(c$y))
  if (inherits(r, "error")) {
    # R stops; the Go test expects an error too.
    out <- c(out, paste0(head, ",\n     \"wantError\": true}"))
    next
  }
  out <- c(out, paste0(head,
    ",\n     \"want\": {\"method\": \"", r$method, "\", \"W\": ", num(unname(r$statistic)),
    ", \"pValue\": ", num(r$p.value), ", \"estimate\": ", num(unname(r$estimate)),
    ", \"lower\": ", num(r$conf.int[1]), ", \"upper\": ", num(r$conf.int[2]), "}}"))
}
cat("{\n  \"generator\": \"", R.version.string, ", testdata/judge/gen.R\",\n  \"cases\": [\n", sep = "")
cat(paste(out, collapse = ",\n"), "\n  ]\n}\n", sep = "")
