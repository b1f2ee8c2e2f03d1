# mkman.awk - one man page per public function, option struct, flag enum
# and constant (#define MMDS_*), from the header comments.
#
#   awk -v outdir=DIR -v header=mmds/map.h -v version=0.1.0 -f mkman.awk HEADER
#
# Every comment block followed by MMDS_API prototypes documents those
# functions: the page's NAME lists them, SYNOPSIS shows the prototypes and
# DESCRIPTION is the comment.  Every `typedef struct mmds_x {`, `enum
# mmds_x {` gets a page mmds_x.3 whose SYNOPSIS is the declaration with its
# member comments and DESCRIPTION the comment above it; each MMDS_*
# constant of an enum gets a page that sources its enum's (.so).  With
# outdir empty, prints the page names.
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
function flush_decl(   f, i, n, names, summary, what) {
	what = decl ~ /^(typedef )?enum/ ? "enum" : "struct"
	summary = decl_ndesc > 0 ? decl_desc[1] : ""
	sub(/^[ \t]*(mmds_[a-z0-9_]+( \/ |, | and )?)+ - /, "", summary)
	sub(/\.[ \t].*$/, "", summary)
	sub(/\.$/, "", summary)
	if (summary == "")
		summary = "the " what " " decl_name " of <" header ">"
	if (outdir == "") {
		print decl_name ".3"
	} else {
		f = outdir "/" decl_name ".3"
		printf(".TH %s 3 \"\" \"mmds %s\" \"mmds manual\"\n", toupper(decl_name), version) > f
		printf(".SH NAME\n%s \\- %s\n", decl_name, summary) > f
		printf(".SH SYNOPSIS\n.nf\n.B #include <%s>\n.PP\n%s.fi\n", header, decl) > f
		printf(".SH DESCRIPTION\n.nf\n") > f
		for (i = 1; i <= decl_ndesc; i++)
			printf("%s\n", decl_desc[i]) > f
		if (decl_ndesc == 0)
			printf("Each member's meaning is in the comment beside it above.\n") > f
		if (nconst > 0)
			printf("\nConstants: %s.\n", consts) > f
		printf(".fi\n.SH SEE ALSO\n.BR mmds (3)\n") > f
		close(f)
	}
	n = split(consts, names, ", ")
	for (i = 1; i <= n; i++) {
		if (outdir == "") {
			print names[i] ".3"
			continue
		}
		f = outdir "/" names[i] ".3"
		printf(".so man3/%s.3\n", decl_name) > f
		close(f)
	}
}
function flush_define(line, beside,   f, i, summary, n) {
	if (outdir == "") {
		print def_name ".3"
		return
	}
	n = (have_comment && funcs == "") ? ndesc : 0
	summary = n > 0 ? desc[1] : beside
	sub(/\.[ \t].*$/, "", summary)
	sub(/\.$/, "", summary)
	if (summary == "")
		summary = "a constant of <" header ">"
	gsub(/\\/, "\\e", line)
	gsub(/\\/, "\\e", beside)
	f = outdir "/" def_name ".3"
	printf(".TH %s 3 \"\" \"mmds %s\" \"mmds manual\"\n", def_name, version) > f
	printf(".SH NAME\n%s \\- %s\n", def_name, summary) > f
	printf(".SH SYNOPSIS\n.nf\n.B #include <%s>\n.PP\n%s\n.fi\n", header, line) > f
	printf(".SH DESCRIPTION\n.nf\n") > f
	for (i = 1; i <= n; i++)
		printf("%s\n", desc[i]) > f
	if (beside != "")
		printf("%s\n", beside) > f
	if (n == 0 && beside == "")
		printf("See <%s>.\n", header) > f
	printf(".fi\n.SH SEE ALSO\n.BR mmds (3)\n") > f
	close(f)
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
# The comment above a group of defines is theirs: what follows the group
# (a struct, a prototype) does not take it.
def_comment && !/^#/ { have_comment = 0; def_comment = 0 }
in_decl {
	line = $0
	gsub(/\\/, "\\e", line)
	if (line ~ /^[.']/)
		line = "\\&" line
	decl = decl line "\n"
	if (is_enum && match($0, /^[ \t]+MMDS_[A-Z0-9_]+/)) {
		c = substr($0, RSTART, RLENGTH)
		gsub(/[ \t]/, "", c)
		consts = consts (nconst++ ? ", " : "") c
	}
	if ($0 ~ /^}/) {
		in_decl = 0
		flush_decl()
	}
	next
}
/^(typedef struct|typedef enum|enum|struct) mmds_[a-z0-9_]+ \{/ {
	decl_name = $0
	sub(/^(typedef struct|typedef enum|enum|struct) /, "", decl_name)
	sub(/ .*$/, "", decl_name)
	is_enum = $0 ~ /enum/
	decl = $0 "\n"
	consts = ""
	nconst = 0
	decl_ndesc = 0
	if (have_comment && funcs == "")
		for (i = 1; i <= ndesc; i++)
			decl_desc[++decl_ndesc] = desc[i]
	have_comment = 0
	funcs = ""
	in_decl = 1
	next
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
# A constant: `#define MMDS_X value` gets a page with the comment above it
# (shared by the defines that follow it, even across #if/#else) and the
# one beside it.  Include guards (no value), MMDS_API and MMDS__ are not
# constants of the API.
/^#define MMDS_[A-Z0-9]/ && !/^#define MMDS__/ && !/^#define MMDS_API[ \t]/ && NF >= 3 {
	def_name = $2
	sub(/\(.*$/, "", def_name)
	line = $0
	beside = ""
	if (match(line, /\/\*.*\*\//)) {
		beside = substr(line, RSTART + 2, RLENGTH - 4)
		gsub(/^[ \t]+|[ \t]+$/, "", beside)
		line = substr(line, 1, RSTART - 1)
		sub(/[ \t]+$/, "", line)
	}
	if (!(def_name in def_seen))
		flush_define(line, beside)
	def_seen[def_name] = 1
	def_comment = 1
	next
}
/^#(if|ifdef|ifndef|else|elif|endif)/ && have_comment && funcs == "" { next }
have_comment && /^[ \t]*$/ && funcs != "" { flush_page(); have_comment = 0; funcs = "" }
have_comment && /^(typedef|enum|struct|#)/ { have_comment = 0; funcs = "" }
END { if (have_comment) flush_page() }
