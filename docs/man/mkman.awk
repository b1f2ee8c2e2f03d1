# mkman.awk - one man page per public function, from the header comments.
#
#   awk -v outdir=DIR -v header=mmds/map.h -v version=0.1.0 -f mkman.awk HEADER
#
# Every comment block followed by MMDS_API prototypes documents those
# functions: the page's NAME lists them, SYNOPSIS shows the prototypes and
# DESCRIPTION is the comment.  With outdir empty, prints the page names.
function flush_page(   i, n, names, page, f, summary) {
	n = split(funcs, names, " ")
	if (n == 0)
		return
	summary = desc[1]
	sub(/^[ \t]*(mmds_[a-z0-9_]+( \/ |, | and )?)+ - /, "", summary)
	sub(/\.[ \t].*$/, "", summary)
	sub(/\.$/, "", summary)
	for (i = 1; i <= n; i++) {
		page = names[i] ".3"
		if (outdir == "") {
			print page
			continue
		}
		f = outdir "/" page
		printf(".TH %s 3 \"\" \"mmds %s\" \"mmds manual\"\n", toupper(names[i]), version) > f
		printf(".SH NAME\n") > f
		printf("%s \\- %s\n", funcs_comma, summary) > f
		printf(".SH SYNOPSIS\n.nf\n.B #include <%s>\n.PP\n", header) > f
		printf("%s", proto) > f
		printf(".fi\n.SH DESCRIPTION\n.nf\n") > f
		for (j = 1; j <= ndesc; j++)
			printf("%s\n", desc[j]) > f
		printf(".fi\n.SH SEE ALSO\n.BR mmds (3)\n") > f
		close(f)
	}
}
function start_comment() {
	if (have_comment && funcs != "")
		flush_page()
	have_comment = 0
	funcs = ""
	ndesc = 0
}
function add_desc(line) {
	sub(/^ ?\* ?/, "", line)
	gsub(/\\/, "\\e", line)
	if (line ~ /^[.']/)
		line = "\\&" line
	if (line != "" || ndesc > 0)
		desc[++ndesc] = line
}
function end_comment() {
	in_comment = 0
	have_comment = 1
	funcs = ""
	funcs_comma = ""
	proto = ""
}
/^\/\*/ {
	start_comment()
	line = $0
	sub(/^\/\* */, "", line)
	if (line ~ /\*\/[ \t]*$/) {
		sub(/[ \t]*\*\/[ \t]*$/, "", line)
		add_desc(line)
		end_comment()
	} else {
		in_comment = 1
		add_desc(line)
	}
	next
}
in_comment {
	line = $0
	if (line ~ /\*\/[ \t]*$/) {
		sub(/[ \t]*\*\/[ \t]*$/, "", line)
		add_desc(line)
		end_comment()
	} else {
		add_desc(line)
	}
	next
}
have_comment && /^MMDS_API/ { in_proto = 1 }
in_proto {
	line = $0
	sub(/^MMDS_API /, "", line)
	gsub(/\\/, "\\e", line)
	proto = proto line "\n"
	if (match($0, /mmds_[a-z0-9_]+\(/)) {
		name = substr($0, RSTART, RLENGTH - 1)
		funcs = funcs " " name
		funcs_comma = funcs_comma (funcs_comma == "" ? "" : ", ") name
	}
	if ($0 ~ /;[ \t]*$/)
		in_proto = 0
	next
}
have_comment && /^[ \t]*$/ && funcs != "" { flush_page(); have_comment = 0; funcs = "" }
have_comment && /^(typedef|enum|struct|#)/ { have_comment = 0; funcs = "" }
END { if (have_comment) flush_page() }
