"""English stopwords for the web filters' stopword ratio (OBELICS keeps paragraphs with >= 30% of them).

A list of English function words (articles, pronouns, auxiliaries, prepositions, conjunctions, common
adverbs and their contractions), written for this project; any ordinary English prose is about half
stopwords, boilerplate and keyword lists far fewer.
"""

STOPWORDS = frozenset("""
a about above according across actually after afterwards again against all almost alone along already also
although always am among amongst an and another any anybody anyhow anyone anything anyway anywhere are aren't
around as at away back be became because become becomes becoming been before beforehand behind being below
beside besides between beyond both but by can can't cannot could couldn't did didn't do does doesn't doing
don't done down due during each either else elsewhere enough etc even ever every everybody everyone everything
everywhere except few for former formerly from further furthermore had hadn't has hasn't have haven't having he
he'd he'll he's hence her here here's hereafter hereby herein hers herself him himself his how how's however i
i'd i'll i'm i've if in indeed instead into is isn't it it's its itself just last latter least less let's
like made make many may maybe me meanwhile might mine more moreover most mostly much must mustn't my myself
namely neither never nevertheless next no nobody none nor not nothing now nowhere of off often on once one only
onto or other others otherwise ought our ours ourselves out over own per perhaps please quite rather really
same see seem seemed seeming seems several shall shan't she she'd she'll she's should shouldn't since so some
somebody somehow someone something sometime sometimes somewhere still such than that that's the their theirs
them themselves then thence there there's thereafter thereby therefore therein these they they'd they'll
they're they've this those though through throughout thus to together too toward towards under unless until up
upon us used very via was wasn't we we'd we'll we're we've well were weren't what what's whatever when when's
whence whenever where where's whereas whereby wherein whether which while who who's whoever whole whom whose
why why's will with within without won't would wouldn't yet you you'd you'll you're you've your yours yourself
yourselves also get got go goes going gone said says say way ways thing things new first two
""".split())
