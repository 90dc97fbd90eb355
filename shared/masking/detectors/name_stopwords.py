"""Capitalised words that follow a name cue without being a name: "I'm Sorry", "This is
Urgent", "Dear Customer", "Thanks, Team". Lower-case; compared with word.lower().

Words that are also common first names (April, May, June, August, Will, Grace, Faith,
Hope, Joy, Summer, Rose) are deliberately absent: missing a name leaks it, while masking
"May" costs little.
"""

STOPWORDS = frozenset(
    """
    i me my mine you your yours we us our he him his she her they them their it its this
    that these those the a an and or but nor not no yes so very just really still also here
    there now then today tomorrow yesterday tonight all everyone everybody someone somebody
    anyone anybody nobody everything nothing something anything one two three first second
    last next other another same different whole entire both each every either neither

    is was are were be been being am have has had do does did will would can could should
    might must shall need needs want wants like love hate think know feel see get got make
    made let call calling called write writing wrote contact contacting contacted reach
    reaching reply replying following follow looking trying hoping waiting going having
    getting asking wondering checking ringing phoning emailing texting messaging chatting
    experiencing facing dealing struggling planning thinking considering requesting
    cancelling canceling returning complaining explaining confirming

    about from with in on at for to of by as if when what who why how where which while
    into onto over under out off up down away back around through after before since until
    again currently actually literally honestly seriously definitely absolutely totally
    completely quite pretty rather too already almost only even never always sometimes
    usually finally probably maybe perhaps kind kinda sort bit little lot much more less
    most least enough

    hi hello hey dear thanks thank regards best cheers sincerely yours please sorry
    apologies apologize apologise ok okay fine good great glad happy sad sure afraid
    frustrated angry upset annoyed disappointed confused worried concerned tired fed done
    ready able unable aware unaware unsure certain new old young urgent important serious
    ridiculous unacceptable terrible awful amazing wonderful excellent perfect correct right
    wrong true false interested busy free late early available unavailable home online
    offline live alive well alright stuck lost shocked surprised impressed satisfied
    dissatisfied unhappy pleased delighted thrilled excited nervous anxious scared
    embarrassed sick ill hurt injured insured covered eligible entitled owed charged billed
    overcharged furious livid outraged fuming baffled puzzled desperate helpless curious
    grateful thankful sorry bummed gutted annoyed irritated exhausted single married
    divorced widowed retired pregnant disabled unemployed employed self allergic diabetic
    vegan vegetarian

    sir madam maam mister miss mr mrs ms mx dr doctor prof professor team folks guys
    everyone all customer customers client clients support service services help helpdesk
    desk agent agents manager supervisor representative rep staff operator admin
    administrator user member owner holder billing sales claims accounts account policy
    insurance bank company department office store shop management security technical tech
    it hr legal finance reception front

    street st avenue ave road rd apt apartment suite unit floor

    monday tuesday wednesday thursday friday saturday sunday january february march july
    september october november december week weekend morning afternoon evening night noon
    day days month months year years time times part round attempt level stage phase

    order orders refund refunds payment payments card cards email phone number address name
    problem problems issue issues question questions complaint complaints request requests
    update updates info information message messages chat call calls ticket case

    english american british canadian french german spanish italian indian chinese
    japanese mexican australian irish scottish welsh european asian african christian
    jewish muslim hindu catholic
    """.split()
)

# A capture containing one of these is a company or department, not a person.
ORGANISATION_WORDS = frozenset(
    """
    insurance insurer assurance bank banking financial finance support service services
    team group company co corp corporation inc ltd llc plc gmbh limited holdings airlines
    airways telecom mobile energy utilities motors logistics solutions systems
    technologies labs department dept office helpdesk care centre center
    """.split()
)
